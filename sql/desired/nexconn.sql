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
-- The desired rows in the one shape every vendor's view has (see sql/desired/tencent.sql):
-- a channel's whole profile comes in the batch read (no shape), and nothing is read apart.
CREATE VIEW syncer_nexconn_desired AS
SELECT d.channel_id AS group_id, d.updated_at,
       md5(row(d.name, d.introduction, d.announcement, d.portrait_url, d.join_perm, d.remove_perm,
               d.mem_invite_perm, d.invite_perm, d.profile_perm, d.mem_profile_perm,
               d.ext_profile)::text) AS desired_digest,
       NULL::text AS shape,
       false AS manages_attrs,
       jsonb_build_object(
           'name', d.name, 'introduction', d.introduction, 'announcement', d.announcement,
           'portrait_url', d.portrait_url, 'join_perm', d.join_perm, 'remove_perm', d.remove_perm,
           'mem_invite_perm', d.mem_invite_perm, 'invite_perm', d.invite_perm,
           'profile_perm', d.profile_perm, 'mem_profile_perm', d.mem_profile_perm,
           'ext_profile', d.ext_profile::text) AS profile
FROM {relation} AS d;

-- name: filter
-- The groups an operator's filter selects (--where: {predicate}, SQL of theirs over the
-- relation's own columns, run by syncer in a read-only transaction), by their IDs.
SELECT d.channel_id FROM {relation} AS d WHERE ({predicate});
