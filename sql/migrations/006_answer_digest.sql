-- A group seen in line also records the digest of the whole batch answer it was seen in (every
-- byte of it, group IDs included). When a later run's batch gets a byte-identical answer, and
-- every group of the batch recorded that digest with its desired row unchanged since, the
-- whole batch is in line: the answer is not even decoded. Cleared with the other digests.
ALTER TABLE group_sync_state ADD COLUMN answer_digest text;

-- The desired rows as syncer's queries read them, each with the digest of its managed columns
-- (read_desired_page compares it with the recorded one; read_desired_rows hands it to the run
-- to record) and, for Tencent, its shape: the base columns set (as BASE_FIELDS in
-- syncer/tencent/models.py names them) and the custom-field keys, for the batch read's filter,
-- and whether it manages attributes (group_attrs set: not NULL, not JSON null).
-- Views, not functions of the row: Postgres inlines a view and computes these from the row's
-- columns, where a function of the whole row was called for each row with the row built for it.
-- A page of 2,000 rows took half the time. Migration 005's functions stay, unused by this
-- version, so that a syncer from before this migration still runs against the database.
CREATE VIEW syncer_tencent_desired AS
SELECT d.*,
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
FROM desired_group_profiles AS d;

CREATE VIEW syncer_nexconn_desired AS
SELECT d.*,
       md5(row(d.name, d.introduction, d.announcement, d.portrait_url, d.join_perm, d.remove_perm,
               d.mem_invite_perm, d.invite_perm, d.profile_perm, d.mem_profile_perm,
               d.ext_profile)::text) AS desired_digest
FROM desired_group_channels AS d;
