-- syncer's own schema as the migrations leave it. tests/test_schema.py checks that the two agree:
-- change both together.

CREATE TABLE syncer_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    checksum   text                                -- sha256 of the migration's text when applied
);

CREATE TABLE sync_runs (
    run_id       bigserial PRIMARY KEY,
    vendor       text NOT NULL,                    -- tencent | nexconn
    mode         text NOT NULL,                    -- run | plan
    status       text NOT NULL DEFAULT 'running',  -- running | succeeded | partial | over_budget | failed | interrupted | empty
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    groups_read  integer NOT NULL DEFAULT 0,
    in_sync      integer NOT NULL DEFAULT 0,
    updated      integer NOT NULL DEFAULT 0,
    rejected     integer NOT NULL DEFAULT 0,
    failed       integer NOT NULL DEFAULT 0,
    not_found    integer NOT NULL DEFAULT 0,
    held_back    integer NOT NULL DEFAULT 0,        -- needed writes, not sent: the change budget was spent
    warnings     integer NOT NULL DEFAULT 0,
    calls        jsonb NOT NULL DEFAULT '{}',      -- {"command": HTTP requests sent}
    error        text,
    shard_index  integer NOT NULL DEFAULT 0,       -- a sharded run's share: shard_index of shard_count
    shard_count  integer NOT NULL DEFAULT 1,
    lock_pid     integer                           -- the backend holding the run's lock while it runs
);

CREATE INDEX sync_runs_shard ON sync_runs (vendor, shard_count, shard_index, run_id);

CREATE TABLE group_sync_state (
    vendor            text NOT NULL,
    group_id          text NOT NULL,               -- the vendor's group (Nexconn: channel) ID
    last_run_id       bigint REFERENCES sync_runs (run_id) ON DELETE SET NULL,
    outcome           text NOT NULL,               -- in_sync | updated | rejected | failed | not_found | held_back | stale | reverted
    error_code        integer,
    error_message     text,
    warnings          jsonb NOT NULL DEFAULT '[]',
    attempts          integer NOT NULL DEFAULT 0,  -- consecutive runs that left the group out of line
    last_success_at   timestamptz,
    last_applied      jsonb,                       -- the last writes the vendor confirmed
    last_applied_at   timestamptz,
    attrs_fingerprint text,                        -- sha256 of the attribute set known to be live
    attrs_checked_at  timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    desired_digest    text,                        -- the desired row when last seen in line (md5, by the vendor's read)
    live_digest       text,                        -- the vendor's answer for the group then (syncer/vendor.py)
    answer_digest     text,                        -- the whole batch answer it was seen in then
    CONSTRAINT group_sync_state_pkey PRIMARY KEY (vendor, group_id)
);

CREATE INDEX group_sync_state_troubled ON group_sync_state (vendor, outcome)
    WHERE outcome IN ('failed', 'rejected', 'not_found', 'held_back', 'stale', 'reverted');

-- The change journal (migration 010): every field a run wrote, with the value before and after.
CREATE TABLE group_changes (
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
CREATE INDEX group_changes_group ON group_changes (vendor, group_id, change_id);
CREATE INDEX group_changes_run ON group_changes (run_id);
CREATE INDEX group_changes_at ON group_changes (at);

-- Plans saved in Postgres (migration 012): `syncer plan --save`, `syncer apply plan:ID`.
CREATE TABLE saved_plans (
    plan_id     bigserial PRIMARY KEY,
    vendor      text NOT NULL,
    app         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    groups      integer NOT NULL,
    body        bytea NOT NULL
);

CREATE FUNCTION syncer_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

-- The shard a group falls to (syncer/sharding.py is its Python twin).
CREATE FUNCTION syncer_shard(group_id text, shard_count integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ('x' || left(md5(group_id), 8))::bit(32)::bigint % shard_count $$;

CREATE TABLE syncer_derived (
    vendor     text PRIMARY KEY,
    relation   text NOT NULL,        -- schema.name, as the settings named it
    version    text NOT NULL,        -- digest of the view's definition in sql/desired/<vendor>.sql
    built_at   timestamptz NOT NULL DEFAULT now()
);

-- The desired relations, their trigger and index, and the views syncer reads them through are
-- not part of syncer's own schema: `syncer migrate` makes them from sql/desired/ for the
-- relations the settings name (syncer/db/migrator.py).
