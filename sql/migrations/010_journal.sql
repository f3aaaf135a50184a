-- The change journal: every field a run wrote, per group and key, with the value the run read
-- before it and the value it wrote. 'applied': the vendor confirmed the write; 'unknown': the write
-- was sent and no answer came, so it may have applied. `syncer history` reads it by group,
-- `syncer status` counts it by run, `syncer prune` drops what is older than the retention.
CREATE TABLE IF NOT EXISTS group_changes (
    change_id  bigserial PRIMARY KEY,
    run_id     bigint NOT NULL,
    vendor     text NOT NULL,
    group_id   text NOT NULL,
    field      text NOT NULL,   -- the vendor's field, or field.key for one key of a set
    before     jsonb,           -- NULL: absent before
    after      jsonb,           -- NULL: deleted
    outcome    text NOT NULL,   -- applied | unknown
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS group_changes_group ON group_changes (vendor, group_id, change_id);
CREATE INDEX IF NOT EXISTS group_changes_run ON group_changes (run_id);
CREATE INDEX IF NOT EXISTS group_changes_at ON group_changes (at);
