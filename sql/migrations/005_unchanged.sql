-- A group seen in line, with nothing to warn about, records what it was seen as: a digest of its
-- desired row (each vendor's read computes it in SQL) and a digest of the vendor's answer for it.
-- While both stay the same, a later run knows the group is in line without validating, decoding
-- or diffing it: the one read of its batch, which every run makes anyway, is the whole check.
-- Any other outcome clears both.
ALTER TABLE group_sync_state
    ADD COLUMN desired_digest text,
    ADD COLUMN live_digest text;

-- (The desired relation and what syncer derives from it are no longer made here but by `syncer
-- migrate` from sql/desired/, at the relation the settings name: see 007_derived.sql.)
