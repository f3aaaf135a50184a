"""The run reads the table the user means: a least-privileged role with a schema of its own, a
desired table in another schema, a table replaced by a view, an empty relation. Real Postgres,
real roles, the real CLI in a subprocess, the emulator over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from syncer.emulator.server import Emulator
from syncer.tencent.seeding import desired_group, live_from_desired

from .helpers import fetch, load_desired
from .test_cli import environment, syncer


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rsplit('@', 1)[-1]}"))


@dataclass
class Role:
    name: str
    url: str  # the test database, connected as this role


@pytest.fixture
async def role(fresh_db: str) -> AsyncIterator[Role]:
    """A login role with a schema of its own (the name Postgres' default search_path,
    "$user", public, puts first), and nothing else."""
    name = f"syncer_{uuid.uuid4().hex[:8]}"
    await fetch(fresh_db, f'CREATE ROLE "{name}" LOGIN')
    await fetch(fresh_db, f'CREATE SCHEMA "{name}" AUTHORIZATION "{name}"')
    try:
        yield Role(name, as_role(fresh_db, name))
    finally:
        await fetch(fresh_db, f'DROP OWNED BY "{name}" CASCADE')
        await fetch(fresh_db, f'DROP ROLE "{name}"')


async def _app_table(db: str, relation: str = "public.desired_group_profiles", groups: int = 30) -> list[str]:
    """The application's desired table, owned by the application (here: the superuser)."""
    await fetch(db, f"CREATE TABLE {relation} (LIKE syncer_template INCLUDING ALL)")
    rows = [desired_group(i) for i in range(groups)]
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(f"SET search_path = {relation.split('.')[0]}")
        from syncer.tencent.seeding import insert_desired

        await insert_desired(conn, rows)
    finally:
        await conn.close()
    return [r.group_id for r in rows]


TEMPLATE = """CREATE TABLE syncer_template (
    group_id text PRIMARY KEY, name text, introduction text, notification text, face_url text,
    max_member_num integer, apply_join_option text, invite_join_option text, mute_all_member boolean,
    app_defined_data jsonb, group_attrs jsonb, updated_at timestamptz NOT NULL DEFAULT now())"""


async def _relations_named(db: str, name: str) -> list[str]:
    rows = await fetch(
        db,
        "SELECT n.nspname || '.' || c.relname AS r FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = $1 ORDER BY 1",
        name,
    )
    return [r["r"] for r in rows]


async def test_least_privilege_end_to_end_creates_no_shadow_and_syncs_the_applications_table(
    fresh_db: str, role: Role, emulator: Emulator
) -> None:
    await fetch(fresh_db, TEMPLATE)
    ids = await _app_table(fresh_db)
    emulator.seed(live_from_desired(desired_group(i)) for i in range(30))
    emulator.groups[ids[3]].name = "drifted"
    await fetch(fresh_db, f'GRANT SELECT ON public.desired_group_profiles TO "{role.name}"')
    env = environment(role.url, emulator) | {"SYNCER_SCHEMA": role.name}

    migrated = await syncer("migrate", env=env)
    assert migrated.code == 0, migrated.err
    # Nothing named desired_group_profiles in the role's schema: only the application's table.
    assert await _relations_named(fresh_db, "desired_group_profiles") == ["public.desired_group_profiles"]
    # The owner's part, handed over as SQL.
    assert "belongs to 'postgres'" in migrated.err
    assert f'EXECUTE FUNCTION "{role.name}".syncer_touch_updated_at()' in migrated.err
    assert "CREATE INDEX IF NOT EXISTS" in migrated.err
    tables = await fetch(fresh_db, "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1", role.name)
    assert {"sync_runs", "group_sync_state", "syncer_migrations", "syncer_derived"} <= {t["tablename"] for t in tables}

    run = await syncer("run", env=env)
    assert run.code == 0, run.err
    assert emulator.groups[ids[3]].name == "Team 3"
    states = await fetch(fresh_db, f'SELECT count(*) AS n FROM "{role.name}".group_sync_state')
    assert states[0]["n"] == 30

    # The owner runs the SQL it was given; then migrate has nothing to do, and no note.
    sql = migrated.err[migrated.err.index("As the owner, run:") + len("As the owner, run:") :]
    for statement in (line.strip() for line in sql.splitlines()):
        if statement.startswith("CREATE"):
            await fetch(fresh_db, statement)
    again = await syncer("migrate", env=env)
    assert again.code == 0 and "nothing to do" in again.out and "note:" not in again.err, again


async def test_least_privilege_without_a_schema_of_its_own_exits_78_naming_the_owner_and_leaves_nothing(
    fresh_db: str, role: Role, emulator: Emulator
) -> None:
    await fetch(fresh_db, TEMPLATE)
    await _app_table(fresh_db)
    await fetch(fresh_db, f'GRANT SELECT ON public.desired_group_profiles TO "{role.name}"')
    result = await syncer("migrate", env=environment(role.url, emulator))  # SYNCER_SCHEMA: public
    assert result.code == 78, result.err
    assert "must own the schema 'public'" in result.err and "SYNCER_SCHEMA" in result.err
    assert "Traceback" not in result.err
    assert await _relations_named(fresh_db, "syncer_migrations") == []
    assert await _relations_named(fresh_db, "desired_group_profiles") == ["public.desired_group_profiles"]


async def test_a_role_without_select_on_the_desired_table_exits_78_naming_the_grant(
    fresh_db: str, role: Role, emulator: Emulator
) -> None:
    await fetch(fresh_db, TEMPLATE)
    await _app_table(fresh_db)
    result = await syncer("migrate", env=environment(role.url, emulator) | {"SYNCER_SCHEMA": role.name})
    assert result.code == 78, result.err
    assert f'GRANT SELECT ON "public"."desired_group_profiles" TO "{role.name}"' in result.err


async def test_nothing_to_do_needs_no_create_privilege_anywhere(fresh_db: str, role: Role, emulator: Emulator) -> None:
    # Migrated by an owner into a schema the role may only use.
    schema = f"s_{uuid.uuid4().hex[:8]}"
    await fetch(fresh_db, f'CREATE SCHEMA "{schema}"')
    owner = await syncer("migrate", env=environment(fresh_db, emulator) | {"SYNCER_SCHEMA": schema})
    assert owner.code == 0, owner.err
    await fetch(fresh_db, f'GRANT USAGE ON SCHEMA "{schema}" TO "{role.name}"')
    await fetch(fresh_db, f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role.name}"')
    await fetch(
        fresh_db, f'GRANT SELECT ON public.desired_group_profiles, public.desired_group_channels TO "{role.name}"'
    )
    result = await syncer("migrate", env=environment(role.url, emulator) | {"SYNCER_SCHEMA": schema})
    assert result.code == 0, result.err
    assert "nothing to do" in result.out


async def test_a_table_in_another_schema_is_never_shadowed_and_is_read_when_named(
    fresh_db: str, emulator: Emulator
) -> None:
    # The application keeps its table in schema app, and its own search_path is public, app.
    await fetch(fresh_db, "CREATE SCHEMA app")
    await fetch(fresh_db, TEMPLATE)
    ids = await _app_table(fresh_db, "app.desired_group_profiles", groups=10)
    emulator.seed(live_from_desired(desired_group(i)) for i in range(10))
    env = environment(fresh_db, emulator)

    refused = await syncer("migrate", env=env)
    assert refused.code == 78, refused.err
    assert "public.desired_group_profiles does not exist, but app.desired_group_profiles does" in refused.err
    assert "SYNCER_DESIRED_RELATION" in refused.err
    assert await _relations_named(fresh_db, "desired_group_profiles") == ["app.desired_group_profiles"]

    named = env | {"SYNCER_DESIRED_RELATION": "app.desired_group_profiles"}
    assert (await syncer("migrate", env=named)).code == 0
    emulator.groups[ids[0]].name = "drifted"
    run = await syncer("run", env=named)
    assert run.code == 0, run.err
    assert emulator.groups[ids[0]].name == "Team 0"
    # The settings and syncer's view must agree: a run naming another relation is refused.
    other = await syncer("run", env=env)
    assert other.code == 78 and "syncer's view reads app.desired_group_profiles" in other.err


async def test_a_view_that_replaces_the_table_is_mended_by_migrate(db: str, emulator: Emulator) -> None:
    rows = [desired_group(i) for i in range(20)]
    await load_desired(db, rows)
    emulator.seed(live_from_desired(r) for r in rows)
    env = environment(db, emulator)
    assert (await syncer("run", env=env)).code == 0
    await fetch(db, "CREATE TABLE src AS SELECT * FROM desired_group_profiles")
    await fetch(db, "DROP TABLE desired_group_profiles CASCADE")  # takes syncer's view with it
    await fetch(db, "CREATE VIEW desired_group_profiles AS SELECT * FROM src")
    await fetch(db, "UPDATE src SET name = 'Renamed' WHERE group_id = $1", rows[5].group_id)

    refused = await syncer("run", env=env)
    assert refused.code == 78, refused.err
    assert "run `syncer migrate`" in refused.err
    mended = await syncer("migrate", env=env)
    assert mended.code == 0 and "nothing to do" not in mended.out, mended
    assert "built syncer_tencent_desired over public.desired_group_profiles" in mended.out
    run = await syncer("run", env=env)
    assert run.code == 0, run.err
    assert emulator.groups[rows[5].group_id].name == "Renamed"


async def test_a_full_run_over_an_empty_relation_says_so_and_exits_4(db: str, emulator: Emulator) -> None:
    result = await syncer("run", "--json", env=environment(db, emulator))
    assert result.code == 4, result.err
    assert "desired_relation_empty" in result.err and "public.desired_group_profiles" in result.err
    (run,) = await fetch(db, "SELECT status, error FROM sync_runs")
    assert run["status"] == "empty" and "has no row" in run["error"]
    assert emulator.log == []


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SYNCER_DESIRED_RELATION", "desired_group_profiles", "expected a schema-qualified name"),
        ("SYNCER_DESIRED_RELATION", "a.b.c", "expected a schema-qualified name"),
        ("SYNCER_SCHEMA", "two words", "expected one schema name"),
    ],
)
async def test_a_relation_or_schema_setting_that_does_not_parse_exits_78(
    db: str, emulator: Emulator, name: str, value: str, says: str
) -> None:
    result = await syncer("migrate", env=environment(db, emulator) | {name: value})
    assert result.code == 78 and says in result.err, result.err
