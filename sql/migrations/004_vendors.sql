-- More than one vendor per database: every run and every group's state says which vendor it
-- is about, and a group ID is unique per vendor only.

ALTER TABLE sync_runs ADD COLUMN vendor text NOT NULL DEFAULT 'tencent';
ALTER TABLE sync_runs ALTER COLUMN vendor DROP DEFAULT;
DROP INDEX sync_runs_shard;
CREATE INDEX sync_runs_shard ON sync_runs (vendor, shard_count, shard_index, run_id);

ALTER TABLE group_sync_state ADD COLUMN vendor text NOT NULL DEFAULT 'tencent';
ALTER TABLE group_sync_state ALTER COLUMN vendor DROP DEFAULT;
ALTER TABLE group_sync_state DROP CONSTRAINT group_sync_state_pkey;
ALTER TABLE group_sync_state ADD CONSTRAINT group_sync_state_pkey PRIMARY KEY (vendor, group_id);
DROP INDEX group_sync_state_troubled;
CREATE INDEX group_sync_state_troubled ON group_sync_state (vendor, outcome)
    WHERE outcome IN ('failed', 'rejected', 'not_found');

-- (The desired relation and what syncer derives from it are no longer made here but by `syncer
-- migrate` from sql/desired/, at the relation the settings name: see 007_derived.sql.)
