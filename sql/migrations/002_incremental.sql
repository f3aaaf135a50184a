-- Incremental runs read the desired rows changed since the last completed run: that needs an
-- updated_at that moves on every change, and an index to find them. Only where
-- desired_group_profiles is a table: a view must supply a truthful updated_at itself.

CREATE OR REPLACE FUNCTION syncer_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('desired_group_profiles') AND relkind = 'r') THEN
        DROP TRIGGER IF EXISTS desired_group_profiles_touch ON desired_group_profiles;
        CREATE TRIGGER desired_group_profiles_touch BEFORE UPDATE ON desired_group_profiles
            FOR EACH ROW EXECUTE FUNCTION syncer_touch_updated_at();
        CREATE INDEX IF NOT EXISTS desired_group_profiles_updated_at ON desired_group_profiles (updated_at);
    END IF;
END
$$;
