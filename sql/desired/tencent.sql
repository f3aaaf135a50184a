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
-- The desired rows as syncer's queries read them, each with the digest of its managed columns
-- (read_desired_page compares it with the recorded one; read_desired_rows hands it to the run
-- to record), its shape (the base columns set, as BASE_FIELDS in syncer/tencent/models.py names
-- them, and the custom-field keys, for the batch read's filter), and whether it manages
-- attributes (group_attrs set: not NULL, not JSON null). A view, which Postgres inlines, rather
-- than functions of the row: a page of 2,000 rows in half the time.
CREATE VIEW syncer_tencent_desired AS
SELECT d.group_id, d.name, d.introduction, d.notification, d.face_url, d.max_member_num,
       d.apply_join_option, d.invite_join_option, d.mute_all_member, d.app_defined_data, d.group_attrs,
       d.updated_at,
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
       coalesce(jsonb_typeof(d.group_attrs) <> 'null', false) AS manages_attrs
FROM {relation} AS d;

-- name: touch_trigger
-- Incremental runs need an updated_at that moves on every real change (a table only: a view must
-- supply a truthful updated_at itself). Needs the table's owner.
CREATE TRIGGER {trigger} BEFORE UPDATE ON {relation}
    FOR EACH ROW EXECUTE FUNCTION {function}();

-- name: updated_at_index
CREATE INDEX IF NOT EXISTS {index} ON {relation} (updated_at);
