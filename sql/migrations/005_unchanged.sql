-- A group seen in line, with nothing to warn about, records what it was seen as: a digest of its
-- desired row (each vendor's read computes it in SQL) and a digest of the vendor's answer for it.
-- While both stay the same, a later run knows the group is in line without validating, decoding
-- or diffing it: the one read of its batch, which every run makes anyway, is the whole check.
-- Any other outcome clears both.
ALTER TABLE group_sync_state
    ADD COLUMN desired_digest text,
    ADD COLUMN live_digest text;

-- What each vendor's queries compute from a desired row, defined once: the digest of its managed
-- columns (read_desired_page compares it with the recorded one, read_desired_rows hands it to
-- the run to record), and, for Tencent, its shape: the base columns set (as BASE_FIELDS in
-- syncer/tencent/models.py names them) and the custom-field keys, for the batch read's filter.
CREATE FUNCTION syncer_tencent_digest(d desired_group_profiles) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT md5(row(d.name, d.introduction, d.notification, d.face_url, d.max_member_num,
                   d.apply_join_option, d.invite_join_option, d.mute_all_member, d.app_defined_data,
                   d.group_attrs)::text)
$$;

CREATE FUNCTION syncer_tencent_shape(d desired_group_profiles) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_array(
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
             ELSE '[]' END)::text
$$;

CREATE FUNCTION syncer_nexconn_digest(d desired_group_channels) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT md5(row(d.name, d.introduction, d.announcement, d.portrait_url, d.join_perm, d.remove_perm,
                   d.mem_invite_perm, d.invite_perm, d.profile_perm, d.mem_profile_perm,
                   d.ext_profile)::text)
$$;
