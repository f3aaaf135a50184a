-- What syncer derives from each vendor's desired relation (the view it reads the relation
-- through, sql/desired/<vendor>.sql) is made by `syncer migrate` for the relation the settings
-- name, and made again whenever that relation, or the view's definition, changes: a relation
-- replaced by a view (DROP TABLE ... CASCADE takes the derived view with it), another relation
-- set. This table records what each vendor's view was last built over; `run` and `plan` compare
-- it with their settings and refuse, naming the one step that mends it, when they differ.
--
-- Until 007, migrations 001-006 also created the desired tables (through the search_path, which
-- could put an empty one in a role's own schema, hiding the application's) and the views. They
-- no longer do for a new database; one already migrated keeps what they made.
CREATE TABLE syncer_derived (
    vendor     text PRIMARY KEY,
    relation   text NOT NULL,        -- schema.name, as the settings named it
    version    text NOT NULL,        -- digest of the view's definition in sql/desired/<vendor>.sql
    built_at   timestamptz NOT NULL DEFAULT now()
);
