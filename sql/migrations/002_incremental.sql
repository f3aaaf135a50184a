-- Incremental runs read the desired rows changed since the last completed run: that needs an
-- updated_at that moves on every change (this function, in a trigger on the desired table), and
-- an index to find them.

CREATE OR REPLACE FUNCTION syncer_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

-- (The desired relation and what syncer derives from it are no longer made here but by `syncer
-- migrate` from sql/desired/, at the relation the settings name: see 007_derived.sql.)
