"""The migrations and sql/schema.sql describe the same database."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from syncer.db.migrator import Connection, migrate
from syncer.db.sqlfiles import desired_query, migrations, queries, query, sql_dir
from syncer.db.store import PgStore
from syncer.errors import SchemaError
from syncer.settings import Settings
from syncer.vendors import VENDORS, desired_setups

SETUPS = desired_setups(Settings())

CATALOG = """
SELECT 'column' AS kind, table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
       || ' ' || coalesce(column_default, '') AS what
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'constraint', conrelid::regclass || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'function', pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'view', viewname || ': ' || definition FROM pg_views WHERE schemaname = 'public'
ORDER BY 1, 2
"""


async def _catalog(url: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(url)
    try:
        return [(r["kind"], r["what"]) for r in await conn.fetch(CATALOG)]
    finally:
        await conn.close()


async def _desired_only(conn: Connection) -> None:
    await conn.execute(
        "INSERT INTO syncer_migrations (version, name) SELECT version, name FROM unnest($1::int[], $2::text[]) AS m(version, name)",
        [m.version for m in migrations()],
        [m.name for m in migrations()],
    )
    await migrate(conn, "public", desired_setups(Settings()))


async def test_migrations_and_schema_file_agree(db: str, new_database: Callable[[], Awaitable[str]]) -> None:
    other = await new_database()
    conn = await asyncpg.connect(other)
    try:
        await conn.execute((sql_dir() / "schema.sql").read_text())
    finally:
        await conn.close()
    # The desired relations and their views are made by migrate's own step, from sql/desired/,
    # on both: what is compared is syncer's schema, and that step applied to it.
    async with PgStore.open(other) as store:
        await store._run("setting up", lambda c: _desired_only(c))
    from_migrations, from_schema = await _catalog(db), await _catalog(other)
    assert len(from_migrations) > 30
    assert from_migrations == from_schema


async def test_migrate_applies_each_file_once_and_run_refuses_a_schema_behind(fresh_db: str) -> None:
    async with PgStore.open(fresh_db) as store:
        with pytest.raises(SchemaError, match="syncer migrate"):
            await store.check_schema()
        assert [m.version for m in (await store.migrate(SETUPS)).applied] == [m.version for m in migrations()]
        again = await store.migrate(SETUPS)
        assert again.applied == [] and again.made == []
        await store.check_schema()
    conn = await asyncpg.connect(fresh_db)
    try:
        await conn.execute("DELETE FROM syncer_migrations WHERE version = (SELECT max(version) FROM syncer_migrations)")
    finally:
        await conn.close()
    async with PgStore.open(fresh_db) as store:
        with pytest.raises(SchemaError, match="syncer migrate"):
            await store.check_schema()


async def test_migrate_keeps_a_desired_view_the_user_put_in_place(fresh_db: str) -> None:
    conn = await asyncpg.connect(fresh_db)
    try:
        await conn.execute("CREATE TABLE src (group_id text PRIMARY KEY, name text)")
        await conn.execute(
            "CREATE VIEW desired_group_profiles AS SELECT group_id, name, NULL::text AS introduction, "
            "NULL::text AS notification, NULL::text AS face_url, NULL::integer AS max_member_num, "
            "NULL::text AS apply_join_option, NULL::text AS invite_join_option, NULL::boolean AS mute_all_member, "
            "NULL::jsonb AS app_defined_data, NULL::jsonb AS group_attrs, now() AS updated_at FROM src"
        )
    finally:
        await conn.close()
    async with PgStore.open(fresh_db, "tencent") as store:
        await store.migrate(SETUPS)
        await store.check_schema(SETUPS[0])
        assert await store.read_desired_page(None, 10) == []


DESIRED_READS = {
    *("read_desired_page", "read_failed_page", "read_desired_rows", "read_seen_rows", "count_desired"),
    *("targeted_present", "desired_shapes"),
}


def test_every_query_is_used_and_every_query_used_exists() -> None:
    source = "\n".join(p.read_text() for p in (sql_dir().parent / "syncer").rglob("*.py"))
    calls = re.findall(r"""\b(?:desired_)?query\(([^)]*)\)""", source)
    used = {name for call in calls for name in re.findall(r'"(\w+)"', call)}
    assert used == set(queries())
    # The reads of a desired relation, and only those, go through a vendor's view.
    assert {name for name, sql in queries().items() if "{desired}" in sql} == DESIRED_READS


@pytest.mark.parametrize("vendor", VENDORS)
async def test_every_desired_read_is_valid_sql_over_each_vendors_view(db: str, vendor: str) -> None:
    conn = await asyncpg.connect(db)
    try:
        for name in sorted(DESIRED_READS):
            await conn.execute(f"PREPARE {name} AS {desired_query(vendor, name)}")
    finally:
        await conn.close()
    with pytest.raises(KeyError):
        desired_query(vendor, "finish_run")


@pytest.mark.parametrize(
    ("vendor", "table", "key"),
    [("tencent", "desired_group_profiles", "group_id"), ("nexconn", "desired_group_channels", "channel_id")],
)
async def test_a_page_is_an_index_range_scan_whatever_the_plan_cache_does(
    db: str, vendor: str, table: str, key: str
) -> None:
    # A page that sorted or scanned the whole table would make a run over N rows cost N²/page.
    # Postgres switches prepared statements to a generic plan after a few executions: force it.
    conn = await asyncpg.connect(db)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(
            f"INSERT INTO {table} ({key}, name) "
            "SELECT 'g' || lpad(i::text, 7, '0'), 'n' FROM generate_series(1, 20000) AS i"
        )
        # As in a first big run: the state table fills while the run pages, and neither table
        # has been analysed since it was loaded.
        await conn.execute("INSERT INTO sync_runs (mode, vendor) VALUES ('run', $1)", vendor)
        await conn.execute(
            "INSERT INTO group_sync_state (vendor, group_id, last_run_id, outcome) "
            f"SELECT $1, {key}, 1, 'in_sync' FROM {table} WHERE {key} < 'g0015000'",
            vendor,
        )
        page = desired_query(vendor, "read_desired_page")
        await conn.execute(
            "PREPARE page(text, boolean, integer, bigint, text, timestamptz, integer, integer, integer, text, text[]) "
            f"AS {page}"
        )
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                f"EXPLAIN EXECUTE page('g0015000', false, 500, 1, 'all', NULL, 4, 1, 50, '{vendor}', NULL)"
            )
        )
    finally:
        await conn.close()
    assert f"Index Scan using {table}_pkey" in plan, plan
    assert f"Seq Scan on {table}" not in plan, plan
    # Each row's state by its key: hashing the whole state table cost 40 ms a page at 100k groups.
    assert "Index Scan using group_sync_state_pkey" in plan, plan
    assert "Seq Scan on group_sync_state" not in plan and "Hash" not in plan, plan


async def test_migrate_status_shows_pending_then_applied_and_a_migration_changed_since(fresh_db: str) -> None:
    async with PgStore.open(fresh_db) as store:
        states, views = await store.migration_status(SETUPS)
        assert [s.applied_at for s in states] == [None] * len(migrations())
        assert views["tencent"] is not None and "syncer migrate" in views["tencent"]
        await store.migrate(SETUPS)
        states, views = await store.migration_status(SETUPS)
        assert all(s.applied_at is not None and s.recorded_checksum == s.migration.checksum for s in states)
        assert not any(s.changed for s in states) and views == {"tencent": None, "nexconn": None}
    conn = await asyncpg.connect(fresh_db)
    try:
        # A database migrated before checksums were kept, and one whose 003 was applied from
        # another text than this syncer's.
        await conn.execute("UPDATE syncer_migrations SET checksum = NULL WHERE version < 3")
        await conn.execute("UPDATE syncer_migrations SET checksum = 'edited' WHERE version = 3")
    finally:
        await conn.close()
    async with PgStore.open(fresh_db) as store:
        report = await store.migrate(SETUPS)
        states, _ = await store.migration_status(SETUPS)
    assert [s.migration.version for s in states if s.changed] == [3]
    assert all(s.recorded_checksum == s.migration.checksum for s in states if s.migration.version != 3)
    assert len(report.notes) == 1 and "migration 003_shards was applied from another text" in report.notes[0]


async def test_a_database_migrated_before_008_loses_the_retired_row_functions(fresh_db: str) -> None:
    # As a database migrated up to 007 by a syncer of then: 005's functions over the desired tables.
    conn = await asyncpg.connect(fresh_db)
    try:
        await conn.execute(query("create_migrations_table"))
        for migration in migrations()[:7]:
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO syncer_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
            )
        await conn.execute("ALTER TABLE syncer_migrations DROP COLUMN checksum")
        await conn.execute("CREATE TABLE desired_group_profiles (group_id text PRIMARY KEY, name text)")
        await conn.execute("CREATE TABLE desired_group_channels (channel_id text PRIMARY KEY, name text)")
        for name, table in [
            ("syncer_tencent_digest", "desired_group_profiles"),
            ("syncer_tencent_shape", "desired_group_profiles"),
            ("syncer_nexconn_digest", "desired_group_channels"),
        ]:
            await conn.execute(
                f"CREATE FUNCTION {name}(d {table}) RETURNS text LANGUAGE sql AS $$ SELECT md5(d::text) $$"
            )
    finally:
        await conn.close()
    async with PgStore.open(fresh_db) as store:
        report = await store.migrate([])
        states, _ = await store.migration_status([])
    assert [m.version for m in report.applied][:1] == [8]  # and whatever came after it
    assert all(s.recorded_checksum == s.migration.checksum for s in states)
    conn = await asyncpg.connect(fresh_db)
    try:
        left = await conn.fetch("SELECT proname FROM pg_proc WHERE proname LIKE 'syncer_%' ORDER BY 1")
    finally:
        await conn.close()
    assert [r["proname"] for r in left] == ["syncer_shard", "syncer_touch_updated_at"]
