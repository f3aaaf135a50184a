-- syncer's own records.

-- (The desired relation and what syncer derives from it are no longer made here but by `syncer
-- migrate` from sql/desired/, at the relation the settings name: see 007_derived.sql.)

CREATE TABLE sync_runs (
    run_id       bigserial PRIMARY KEY,
    mode         text NOT NULL,                    -- run | plan
    status       text NOT NULL DEFAULT 'running',  -- running | succeeded | partial | failed | interrupted
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    groups_read  integer NOT NULL DEFAULT 0,
    in_sync      integer NOT NULL DEFAULT 0,
    updated      integer NOT NULL DEFAULT 0,
    rejected     integer NOT NULL DEFAULT 0,
    failed       integer NOT NULL DEFAULT 0,
    not_found    integer NOT NULL DEFAULT 0,
    warnings     integer NOT NULL DEFAULT 0,
    calls        jsonb NOT NULL DEFAULT '{}',      -- {"command": HTTP requests sent}
    error        text
);

CREATE TABLE group_sync_state (
    group_id          text PRIMARY KEY,
    last_run_id       bigint REFERENCES sync_runs (run_id) ON DELETE SET NULL,
    outcome           text NOT NULL,               -- in_sync | updated | rejected | failed | not_found
    error_code        integer,
    error_message     text,
    warnings          jsonb NOT NULL DEFAULT '[]',
    attempts          integer NOT NULL DEFAULT 0,  -- consecutive runs that left the group out of line
    last_success_at   timestamptz,
    last_applied      jsonb,                       -- the last writes the vendor confirmed
    last_applied_at   timestamptz,
    attrs_fingerprint text,                        -- sha256 of the attribute set known to be live
    attrs_checked_at  timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX group_sync_state_troubled ON group_sync_state (outcome)
    WHERE outcome IN ('failed', 'rejected', 'not_found');
