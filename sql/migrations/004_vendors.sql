-- More than one vendor per database: every run and every group's state says which vendor it
-- is about, and a group ID is unique per vendor only. Nexconn's group channels get their own
-- desired table (NULL means "not managed", as for Tencent).

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

CREATE TABLE IF NOT EXISTS desired_group_channels (
    channel_id        text PRIMARY KEY,
    name              text,
    introduction      text,
    announcement      text,
    portrait_url      text,
    join_perm         smallint,   -- 0..3
    remove_perm       smallint,   -- 0..2
    mem_invite_perm   smallint,   -- 0..2
    invite_perm       smallint,   -- 0..1
    profile_perm      smallint,   -- 0..2
    mem_profile_perm  smallint,   -- 0..2
    ext_profile       jsonb,      -- {"ext_key": "value"}: managed keys
    updated_at        timestamptz NOT NULL DEFAULT now()
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('desired_group_channels') AND relkind = 'r') THEN
        DROP TRIGGER IF EXISTS desired_group_channels_touch ON desired_group_channels;
        CREATE TRIGGER desired_group_channels_touch BEFORE UPDATE ON desired_group_channels
            FOR EACH ROW EXECUTE FUNCTION syncer_touch_updated_at();
        CREATE INDEX IF NOT EXISTS desired_group_channels_updated_at ON desired_group_channels (updated_at);
    END IF;
END
$$;
