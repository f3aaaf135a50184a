-- The shard a group falls to, defined once for every query (its Python twin is
-- syncer/sharding.py): the first 32 bits of md5(group_id), modulo the shard count. A one-line SQL
-- function that Postgres inlines into each query, so it costs what the expression did.
CREATE FUNCTION syncer_shard(group_id text, shard_count integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ('x' || left(md5(group_id), 8))::bit(32)::bigint % shard_count $$;

-- Retired (CONTRIBUTING.md, "Retiring a database object"): 005's row functions, unused since
-- each vendor's view computes what they did. Only a database migrated before 007 has them.
DROP FUNCTION IF EXISTS syncer_tencent_digest;
DROP FUNCTION IF EXISTS syncer_tencent_shape;
DROP FUNCTION IF EXISTS syncer_nexconn_digest;

-- What each migration's text was when applied: `syncer migrate --status` shows one that changed
-- since. Migrations applied before this one are recorded with their text as of now. (A database
-- made since has the column from the start: sql/queries.sql, create_migrations_table.)
ALTER TABLE syncer_migrations ADD COLUMN IF NOT EXISTS checksum text;
