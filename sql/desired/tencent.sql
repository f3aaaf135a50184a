-- Tencent's desired relation and what syncer derives from it. `syncer migrate` applies these to
-- the relation the settings name ({relation}: schema-qualified, quoted; {name}: its bare name),
-- never through a search_path: see syncer/db/migrator.py.

-- name: table
-- Created only when no relation of that name exists anywhere in the database.
CREATE TABLE {relation} (
    group_id           text PRIMARY KEY,
    name               text,
    introduction       text,
    notification       text,
    face_url           text,
    max_member_num     integer,
    apply_join_option  text,      -- FreeAccess | NeedPermission | DisableApply
    invite_join_option text,      -- FreeAccess | NeedPermission | DisableInvite
    mute_all_member    boolean,
    app_defined_data   jsonb,     -- {"key": "value"}: managed custom fields; null or "" deletes the key
    group_attrs        jsonb,     -- {"key": "value"}: the complete attribute set; {} clears all
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- name: view
-- The desired rows in the one shape every vendor's view has (sql/queries.sql reads them all
-- alike; CONTRIBUTING.md, "Adding a vendor"):
--   group_id, updated_at;
--   desired_digest: the digest of the managed columns (a page compares it with the recorded one);
--   shape: what the batch read must ask for (here the base columns set, as BASE_FIELDS in
--     syncer/tencent/models.py names them, and the custom-field keys, for its filter);
--   manages_attrs: the group has a set read apart from the batch read (group_attrs set: not
--     NULL, not JSON null);
--   profile: every managed column by name, as one JSON object (syncer/tencent/vendor.py's
--     decode_desired), read only for the groups a run looks at in full. A jsonb column goes in
--     as its text, decoded on its own, so that what does not decode is named by its column.
-- A view, which Postgres inlines, rather than functions of the row: only the columns a query
-- names are computed.
CREATE VIEW syncer_tencent_desired AS
SELECT d.group_id, d.updated_at,
       md5(row(d.name, d.introduction, d.notification, d.face_url, d.max_member_num, d.apply_join_option,
               d.invite_join_option, d.mute_all_member, d.app_defined_data, d.group_attrs)::text) AS desired_digest,
       jsonb_build_array(
           array_remove(ARRAY[
               CASE WHEN d.name IS NOT NULL THEN 'name' END,
               CASE WHEN d.introduction IS NOT NULL THEN 'introduction' END,
               CASE WHEN d.notification IS NOT NULL THEN 'notification' END,
               CASE WHEN d.face_url IS NOT NULL THEN 'face_url' END,
               CASE WHEN d.max_member_num IS NOT NULL THEN 'max_member_num' END,
               CASE WHEN d.apply_join_option IS NOT NULL THEN 'apply_join_option' END,
               CASE WHEN d.invite_join_option IS NOT NULL THEN 'invite_join_option' END,
               CASE WHEN d.mute_all_member IS NOT NULL THEN 'mute_all_member' END], NULL),
           CASE WHEN jsonb_typeof(d.app_defined_data) = 'object'
                THEN (SELECT coalesce(jsonb_agg(k), '[]') FROM jsonb_object_keys(d.app_defined_data) AS k)
                ELSE '[]' END)::text AS shape,
       coalesce(jsonb_typeof(d.group_attrs) <> 'null', false) AS manages_attrs,
       jsonb_build_object(
           'name', d.name, 'introduction', d.introduction, 'notification', d.notification,
           'face_url', d.face_url, 'max_member_num', d.max_member_num,
           'apply_join_option', d.apply_join_option, 'invite_join_option', d.invite_join_option,
           'mute_all_member', d.mute_all_member, 'app_defined_data', d.app_defined_data::text,
           'group_attrs', d.group_attrs::text) AS profile
FROM {relation} AS d;

-- name: filter
-- The groups an operator's filter selects (--where: {predicate}, SQL of theirs over the
-- relation's own columns, run by syncer in a read-only transaction), by their IDs.
SELECT d.group_id FROM {relation} AS d WHERE ({predicate});
