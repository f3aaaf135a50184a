-- Nexconn's desired relation and what syncer derives from it. `syncer migrate` applies these to
-- the relation the settings name ({relation}: schema-qualified, quoted), never through a
-- search_path: see syncer/db/migrator.py.

-- name: table
-- Created only when no relation of that name exists anywhere in the database.
CREATE TABLE {relation} (
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

-- name: view
-- The desired rows as syncer's queries read them, each with the digest of its managed columns.
CREATE VIEW syncer_nexconn_desired AS
SELECT d.channel_id, d.name, d.introduction, d.announcement, d.portrait_url, d.join_perm, d.remove_perm,
       d.mem_invite_perm, d.invite_perm, d.profile_perm, d.mem_profile_perm, d.ext_profile, d.updated_at,
       md5(row(d.name, d.introduction, d.announcement, d.portrait_url, d.join_perm, d.remove_perm,
               d.mem_invite_perm, d.invite_perm, d.profile_perm, d.mem_profile_perm,
               d.ext_profile)::text) AS desired_digest
FROM {relation} AS d;

-- name: touch_trigger
-- Incremental runs need an updated_at that moves on every real change (a table only: a view must
-- supply a truthful updated_at itself). Needs the table's owner.
CREATE TRIGGER {trigger} BEFORE UPDATE ON {relation}
    FOR EACH ROW EXECUTE FUNCTION {function}();

-- name: updated_at_index
CREATE INDEX IF NOT EXISTS {index} ON {relation} (updated_at);
