"""`syncer migrate`: syncer's own schema, then each vendor's desired relation and what syncer
derives from it, with no more privilege than each step needs.

- syncer's own objects live in one schema (``Settings.schema``), which is every syncer
  connection's whole search_path: the numbered migrations in sql/migrations/ create them there.
- A desired relation is always named in full (``schema.name``), never found through a
  search_path. It is created (from sql/desired/<vendor>.sql) only when no relation of that name
  exists anywhere in the database: a table syncer made could otherwise hide the application's
  from anyone whose search_path reaches it first.
- What needs the desired table's owner (the trigger that moves ``updated_at``, its index) is
  made when syncer's role owns the table, and otherwise handed back as SQL for the owner to run.
- The view syncer reads a relation through is made again whenever the relation, or the view's
  definition, changes; ``syncer_derived`` records what it was built over, and :func:`check_derived`
  refuses a run whose settings name another relation, or whose view is gone.
- With nothing to do, `migrate` issues no DDL at all, so it needs no CREATE privilege anywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from syncer.db.sqlfiles import Migration, desired_templates, desired_view, migrations, query
from syncer.errors import ConfigError, SchemaError
from syncer.settings import Relation, quote_ident

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection = PoolConnectionProxy[asyncpg.Record] | asyncpg.Connection
else:
    Connection = asyncpg.Connection

_PRIVILEGE_ERRORS = (asyncpg.InsufficientPrivilegeError,)


@dataclass(frozen=True, slots=True)
class DesiredSetup:
    """One vendor's desired relation. ``required``: the vendor the settings are for, whose
    relation must be usable (a problem is an error); another vendor's is set up where it can be."""

    vendor: str
    relation: Relation
    setting: str = "SYNCER_DESIRED_RELATION"
    required: bool = True

    @property
    def view(self) -> str:
        return desired_view(self.vendor)


@dataclass(slots=True)
class MigrationReport:
    applied: list[Migration] = field(default_factory=list)
    made: list[str] = field(default_factory=list)  # what else was created or rebuilt
    notes: list[str] = field(default_factory=list)  # what was left to someone else, and how


def view_version(vendor: str) -> str:
    """The digest of the vendor's view definition: a new one rebuilds every database's view."""
    return hashlib.sha256(desired_templates(vendor)["view"].encode()).hexdigest()[:16]


def _sql(vendor: str, part: str, relation: Relation, schema: str) -> str:
    names = {
        "{relation}": relation.sql,
        "{trigger}": quote_ident(f"{relation.name}_touch"),
        "{index}": quote_ident(f"{relation.name}_updated_at"),
        "{function}": f"{quote_ident(schema)}.syncer_touch_updated_at",
    }
    text = "\n".join(line for line in desired_templates(vendor)[part].splitlines() if not line.startswith("--"))
    for placeholder, value in names.items():
        text = text.replace(placeholder, value)
    return text


async def migrate(conn: Connection, schema: str, setups: Sequence[DesiredSetup]) -> MigrationReport:
    report = MigrationReport()
    role = await conn.fetchval("SELECT current_user")
    await _ensure_schema(conn, schema, role, report)
    if await conn.fetchval("SELECT to_regclass('syncer_migrations')") is None:
        await _privileged(
            conn.execute(query("create_migrations_table")), f"creating syncer_migrations in {schema}", role, schema
        )
    for migration in migrations():
        async with conn.transaction():
            await conn.execute(query("migration_lock"))
            done = {r["version"] for r in await conn.fetch(query("schema_versions"))}
            if migration.version in done:
                continue
            what = f"migration {migration.label}"
            await _privileged(conn.execute(migration.sql), what, role, schema)
            await conn.execute(query("record_migration"), migration.version, migration.name, migration.checksum)
            report.applied.append(migration)
    states = await migration_states(conn)
    unrecorded = [s.migration for s in states if s.applied_at is not None and s.recorded_checksum is None]
    if unrecorded:  # applied before checksums were kept: once, and only then an UPDATE
        await conn.execute(
            query("backfill_checksums"), [m.version for m in unrecorded], [m.checksum for m in unrecorded]
        )
    for state in states:
        if state.changed:
            report.notes.append(
                f"migration {state.migration.label} was applied from another text than this syncer's (checksum "
                f"{state.recorded_checksum}, now {state.migration.checksum}): migrations are never applied twice; "
                "if that is not a known edit of history (see CHANGELOG.md), compare the schema with sql/schema.sql"
            )
    for setup in setups:
        await _desired(conn, setup, schema, role, report)
    return report


@dataclass(frozen=True, slots=True)
class MigrationState:
    """One of this syncer's migrations in a database: applied (when, from which text) or pending."""

    migration: Migration
    applied_at: datetime | None
    recorded_checksum: str | None

    @property
    def changed(self) -> bool:
        """Applied from a text other than this syncer's file."""
        return self.recorded_checksum is not None and self.recorded_checksum != self.migration.checksum


async def migration_states(conn: Connection) -> list[MigrationState]:
    """Each of this syncer's migrations as the database records it (none recorded: all pending)."""
    if await conn.fetchval("SELECT to_regclass('syncer_migrations')") is None:
        return [MigrationState(m, None, None) for m in migrations()]
    applied = {r["version"]: r for r in await conn.fetch(query("applied_migrations"))}
    states = []
    for migration in migrations():
        row = applied.get(migration.version)
        states.append(
            MigrationState(migration, row["applied_at"], row["checksum"])
            if row is not None
            else MigrationState(migration, None, None)
        )
    return states


async def derived_state(conn: Connection, setup: DesiredSetup) -> str | None:
    """What is wrong with the view syncer reads ``setup``'s relation through, or None."""
    try:
        await check_derived(conn, setup)
    except SchemaError as exc:
        return str(exc)
    except asyncpg.UndefinedTableError:
        return "not built yet: run `syncer migrate`"
    return None


async def _privileged(operation: object, what: str, role: str, schema: str) -> None:
    try:
        await operation  # type: ignore[misc]
    except _PRIVILEGE_ERRORS as exc:
        raise ConfigError(
            f"{what}: {exc}. syncer's role {role!r} must own the schema {schema!r}: set SYNCER_SCHEMA to a "
            f"schema it owns (as a superuser: CREATE SCHEMA syncer AUTHORIZATION {quote_ident(role)}), or as "
            f"the schema's owner run ALTER SCHEMA {quote_ident(schema)} OWNER TO {quote_ident(role)}. "
            "Nothing of this step was kept"
        ) from None


async def _ensure_schema(conn: Connection, schema: str, role: str, report: MigrationReport) -> None:
    if await conn.fetchval(query("schema_exists"), schema):
        return
    try:
        await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
    except _PRIVILEGE_ERRORS:
        raise ConfigError(
            f"the schema {schema!r} (SYNCER_SCHEMA) does not exist and {role!r} may not create it: as a superuser, "
            f"run CREATE SCHEMA {quote_ident(schema)} AUTHORIZATION {quote_ident(role)}"
        ) from None
    report.made.append(f"created the schema {schema}")


async def _desired(conn: Connection, setup: DesiredSetup, schema: str, role: str, report: MigrationReport) -> None:
    relation = setup.relation
    info = await conn.fetchrow(query("relation_info"), relation.schema, relation.name)
    if info is None:
        elsewhere = [r["name"] for r in await conn.fetch(query("same_name_elsewhere"), relation.name)]
        if elsewhere:
            return _refuse(
                setup,
                f"{relation} does not exist, but {', '.join(elsewhere)} does: syncer creates no table that could "
                f"hide another of the same name; set {setup.setting} to the relation syncer should read",
            )
        try:
            async with conn.transaction():
                await conn.execute(query("migration_lock"))
                await conn.execute(_sql(setup.vendor, "table", relation, schema))
        except (*_PRIVILEGE_ERRORS, asyncpg.InvalidSchemaNameError) as exc:
            return _refuse(
                setup,
                f"{relation} does not exist and {role!r} cannot create it ({exc}): create it as the schema's owner "
                f"(the README's desired table), or set {setup.setting}",
            )
        report.made.append(f"created {relation}")
        info = await conn.fetchrow(query("relation_info"), relation.schema, relation.name)
        assert info is not None
    if not info["can_select"]:
        return _refuse(
            setup,
            f"{role!r} cannot read {relation}: as its owner, run GRANT SELECT ON {relation.sql} TO {quote_ident(role)}",
        )
    if info["relkind"] in (b"r", b"p"):  # a table (plain or partitioned): not a view
        await _owner_objects(conn, setup, schema, info, report)
    await _view(conn, setup, schema, report)


async def _owner_objects(
    conn: Connection, setup: DesiredSetup, schema: str, info: asyncpg.Record, report: MigrationReport
) -> None:
    """The trigger that keeps updated_at truthful, and its index: only a table's owner may add them."""
    relation = setup.relation
    missing = []
    if not await conn.fetchval(query("has_trigger"), info["oid"], f"{relation.name}_touch"):
        missing.append(_sql(setup.vendor, "touch_trigger", relation, schema))
    if await conn.fetchval(query("relation_info"), relation.schema, f"{relation.name}_updated_at") is None:
        missing.append(_sql(setup.vendor, "updated_at_index", relation, schema))
    if not missing:
        return
    if not info["owned"]:
        report.notes.append(
            f"{relation} belongs to {info['owner']!r}: incremental runs need its updated_at kept truthful, which "
            "only its owner can arrange. As the owner, run:\n    " + "\n    ".join(" ".join(s.split()) for s in missing)
        )
        return
    async with conn.transaction():
        for statement in missing:
            await conn.execute(statement)
    report.made.append(f"added the updated_at trigger and index to {relation}")


def _refuse(setup: DesiredSetup, message: str) -> None:
    """A desired relation syncer cannot use: an error for the vendor the settings are for; for
    another vendor, whose relation migrate only sets up where it can, nothing to say."""
    if setup.required:
        raise ConfigError(message)


async def _view(conn: Connection, setup: DesiredSetup, schema: str, report: MigrationReport) -> None:
    relation, version = setup.relation, view_version(setup.vendor)
    built = await conn.fetchrow(query("derived_of"), setup.vendor)
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", setup.view)
    if exists and built is not None and built["relation"] == str(relation) and built["version"] == version:
        return
    try:
        async with conn.transaction():
            await conn.execute(query("migration_lock"))
            await conn.execute(f"DROP VIEW IF EXISTS {quote_ident(setup.view)}")
            await conn.execute(_sql(setup.vendor, "view", relation, schema))
            await conn.execute(query("record_derived"), setup.vendor, str(relation), version)
    except asyncpg.UndefinedColumnError as exc:
        return _refuse(
            setup,
            f"{relation} lacks a column syncer reads ({exc}): it must have the columns of the desired table "
            "in the README (a view may supply them)",
        )
    report.made.append(f"built {setup.view} over {relation}")


async def check_derived(conn: Connection, setup: DesiredSetup) -> None:
    """Refuse to read a desired relation through a view that is gone, out of date, or built
    over another relation than the settings name, saying the one step that mends it."""
    built = await conn.fetchrow(query("derived_of"), setup.vendor)
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", setup.view)
    if built is None or not exists:
        raise SchemaError(
            f"syncer has no view of {setup.relation} (never migrated for it, or the relation was dropped or "
            "replaced since): run `syncer migrate`"
        )
    if built["relation"] != str(setup.relation):
        raise SchemaError(
            f"syncer's view reads {built['relation']}, but {setup.setting} names {setup.relation}: "
            "run `syncer migrate` with these settings"
        )
    if built["version"] != view_version(setup.vendor):
        raise SchemaError(f"syncer's view of {setup.relation} is from another version of syncer: run `syncer migrate`")
