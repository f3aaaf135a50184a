-- What every vendor's desired relation gets alike, besides its own file's parts (syncer/db/sqlfiles.py,
-- desired_templates). `syncer migrate` applies them as it does the vendor's.

-- name: touch_trigger
-- Incremental runs need an updated_at that moves on every real change (a table only: a view must
-- supply a truthful updated_at itself). Needs the table's owner.
CREATE TRIGGER {trigger} BEFORE UPDATE ON {relation}
    FOR EACH ROW EXECUTE FUNCTION {function}();

-- name: updated_at_index
CREATE INDEX IF NOT EXISTS {index} ON {relation} (updated_at);
