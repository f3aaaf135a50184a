-- Plans saved in Postgres (`syncer plan --save`), for `syncer apply plan:ID` from wherever the
-- database is reachable: a laptop, or a Kubernetes Job with no volume to pass a file on. The body
-- is the plan file's bytes, its checksum inside.
CREATE TABLE IF NOT EXISTS saved_plans (
    plan_id     bigserial PRIMARY KEY,
    vendor      text NOT NULL,
    app         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    groups      integer NOT NULL,
    body        bytea NOT NULL
);
