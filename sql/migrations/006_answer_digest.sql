-- A group seen in line also records the digest of the whole batch answer it was seen in (every
-- byte of it, group IDs included). When a later run's batch gets a byte-identical answer, and
-- every group of the batch recorded that digest with its desired row unchanged since, the
-- whole batch is in line: the answer is not even decoded. Cleared with the other digests.
ALTER TABLE group_sync_state ADD COLUMN answer_digest text;

-- (The desired relation and what syncer derives from it are no longer made here but by `syncer
-- migrate` from sql/desired/, at the relation the settings name: see 007_derived.sql.)
