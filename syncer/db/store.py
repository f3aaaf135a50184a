"""Postgres behind :class:`syncer.ports.Store`: desired rows in, outcomes out, and what `syncer
status` shows. Driver errors become :class:`DatabaseError` here, at the one edge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from syncer import ports
from syncer.db.lock import hold_run_lock
from syncer.db.migrator import (
    DesiredSetup,
    MigrationReport,
    MigrationState,
    check_derived,
    derived_state,
    migrate,
    migration_states,
)
from syncer.db.sqlfiles import desired_query, desired_templates, migrations, query
from syncer.errors import ConfigError, DatabaseError, SchemaError
from syncer.jsoncodec import dumps_text
from syncer.models import FieldChange, GroupResult, JournalEntry, RunRecord, Status, TroubledGroup, journal_of
from syncer.ports import EVERY_ROW, DesiredRecord, PageQuery, PageRow, RunTotals, SeenBatch, UnchangedBatch
from syncer.quoting import clip
from syncer.settings import quote_ident, redact_url
from syncer.sharding import UNSHARDED, Shard

T = TypeVar("T")
if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection = PoolConnectionProxy[asyncpg.Record]
else:
    Connection = asyncpg.Connection


@dataclass(frozen=True, slots=True)
class DbTimeouts:
    """How long syncer waits for Postgres: to connect, and for any one statement (the server
    is told the same, and as its lock_timeout)."""

    connect_s: float = 10.0
    statement_s: float = 60.0


async def _translated(what: str, operation: Awaitable[T]) -> T:
    try:
        return await operation
    except asyncpg.UndefinedTableError as exc:
        raise SchemaError(f"{what}: {exc.message}; run `syncer migrate`") from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        raise DatabaseError(f"{what}: {type(exc).__name__}: {exc}") from exc


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A pooled connection is idle between pages; Postgres 14+'s idle_session_timeout must not
    end it under the run."""
    await conn.execute(query("keep_session"))


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """What the pool does to a connection handed back, besides rolling back a transaction left
    open (which it always does): nothing. syncer's queries leave no session state on pooled
    connections (no SET, LISTEN, cursors or session-level advisory locks: the run lock has a
    connection of its own), and asyncpg's default reset is one more round trip per query."""


class PgStore:
    """``vendor``: the vendor whose desired relation and records this store reads and writes;
    only ``migrate``, the lock and ``status`` work without one."""

    def __init__(self, pool: asyncpg.Pool, url: str, vendor: str | None = None, schema: str = "public") -> None:
        self._pool = pool
        self._url = url
        self._vendor = vendor
        self._schema = schema

    @property
    def vendor(self) -> str:
        if self._vendor is None:
            raise RuntimeError("this PgStore was opened without a vendor")
        return self._vendor

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        max_size: int = 4,
        vendor: str | None = None,
        timeouts: DbTimeouts | None = None,
        schema: str = "public",
    ) -> PgStore:
        timeouts = timeouts or DbTimeouts()
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=max_size,
                timeout=timeouts.connect_s,
                command_timeout=timeouts.statement_s,
                # The server gives up too (a table locked by another session, say), so that a
                # query cut off by the client does not go on holding what it took.
                server_settings={
                    # syncer's own objects, and nothing else, are found by name: the desired
                    # relation is always named in full.
                    "search_path": quote_ident(schema),
                    "statement_timeout": f"{int(timeouts.statement_s * 1000)}",
                    "lock_timeout": f"{int(timeouts.statement_s * 1000)}",
                },
                reset=_nothing_to_reset,
                init=_keep_session,
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError, ValueError) as exc:
            raise DatabaseError(
                f"cannot connect to Postgres at {redact_url(url)}: {type(exc).__name__}: {exc}"
            ) from exc
        assert pool is not None
        return cls(pool, url, vendor, schema)

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, vendor: str | None = None, timeouts: DbTimeouts | None = None, schema: str = "public"
    ) -> AsyncIterator[PgStore]:
        store = await cls.connect(url, vendor=vendor, timeouts=timeouts, schema=schema)
        try:
            yield store
        finally:
            await store.close()

    async def close(self) -> None:
        await self._pool.close()

    async def _run(self, what: str, fn: Callable[[Connection], Awaitable[T]]) -> T:
        async def op() -> T:
            async with self._pool.acquire() as conn:
                return await fn(conn)

        return await _translated(what, op())

    # -- schema --------------------------------------------------------------------------------

    async def applied_versions(self) -> list[int]:
        async def fn(conn: Connection) -> list[int]:
            exists = await conn.fetchval("SELECT to_regclass('syncer_migrations') IS NOT NULL")
            if not exists:
                return []
            return [r["version"] for r in await conn.fetch(query("schema_versions"))]

        return await self._run("reading the schema version", fn)

    async def check_schema(self, desired: DesiredSetup | None = None) -> None:
        """Refuse to work on a database whose schema is missing or behind, or (``desired``) whose
        view of the desired relation is gone or built over another relation."""
        applied = await self.applied_versions()
        latest = len(migrations())
        if not applied:
            raise SchemaError("the database has no syncer schema: run `syncer migrate` first")
        if max(applied) < latest:
            raise SchemaError(
                f"the database schema is at version {max(applied)}, this syncer needs {latest}: run `syncer migrate`"
            )
        if desired is not None:
            await self._run("checking the desired relation", lambda c: check_derived(c, desired))

    async def migrate(self, desired: Sequence[DesiredSetup]) -> MigrationReport:
        """Apply each pending migration once, each in its own transaction; then set up each
        vendor's desired relation (:mod:`syncer.db.migrator`)."""
        return await self._run("applying migrations", lambda c: migrate(c, self._schema, desired))

    async def migration_status(
        self, desired: Sequence[DesiredSetup]
    ) -> tuple[list[MigrationState], dict[str, str | None]]:
        """Each migration's state, and per vendor what is wrong with its desired view (None: nothing)."""

        async def fn(conn: Connection) -> tuple[list[MigrationState], dict[str, str | None]]:
            states = await migration_states(conn)
            return states, {setup.vendor: await derived_state(conn, setup) for setup in desired}

        return await self._run("reading the schema's state", fn)

    # -- one run at a time ------------------------------------------------------------------------

    def run_lock(
        self, name: str, *, within: str | None = None, shard_count: int = 1, timings: ports.LockTimings | None = None
    ) -> AbstractAsyncContextManager[ports.RunLock]:
        """The run lock (:mod:`syncer.db.lock`), on a connection of its own."""
        return hold_run_lock(
            self._url, name, within=within, shard_count=shard_count, timings=timings or ports.LockTimings()
        )

    async def orphaned_runs(self) -> list[int]:
        """This vendor's runs still marked running whose lock-holding backend is gone."""
        sql, vendor = query("orphaned_runs"), self.vendor
        rows = await self._run("reading past runs", lambda c: c.fetch(sql, vendor))
        return [r["run_id"] for r in rows]

    async def abandon_runs(self, run_ids: Sequence[int]) -> None:
        sql = query("abandon_runs")
        await self._run("recording abandoned runs", lambda c: c.execute(sql, list(run_ids)))

    # -- the pipeline's reads and writes ---------------------------------------------------------

    async def read_desired_page(
        self, after: str | None, limit: int, query: PageQuery = EVERY_ROW
    ) -> list[PageRow | SeenBatch]:
        """See :meth:`syncer.ports.Store.read_desired_page`."""
        vendor, shard = self.vendor, query.shard
        args: tuple[object, ...]
        if query.selection == "failed":
            sql = desired_query(vendor, "read_failed_page")
            args = (after or "", after is None, limit, shard.count, shard.index, vendor)
        else:
            sql = desired_query(vendor, "read_desired_page")
            args = (after or "", after is None, limit, query.run_id or 0, query.selection, query.since)
            args += (shard.count, shard.index, query.whole_batch, vendor, query.only)
        records = await self._run(f"reading {vendor}'s desired rows", lambda c: c.fetch(sql, *args))
        return [_page_item(r) for r in records]

    async def targets(
        self, group_ids: Sequence[str], where: str | None, relation: str = ""
    ) -> tuple[list[str], list[str]]:
        """See :meth:`syncer.ports.Store.targets`; ``relation``: the desired relation's SQL name,
        which ``where`` is run over."""
        present_sql = desired_query(self.vendor, "targeted_present")

        async def fn(conn: Connection) -> tuple[list[str], list[str]]:
            present = {r[0] for r in await conn.fetch(present_sql, list(group_ids))} if group_ids else set()
            chosen = set(present)
            if where is not None:
                sql = desired_templates(self.vendor)["filter"].replace("{relation}", relation)
                sql = sql.replace("{predicate}", where)
                try:
                    async with conn.transaction(readonly=True):
                        chosen |= {r[0] for r in await conn.fetch(sql)}
                except asyncpg.PostgresError as exc:
                    raise ConfigError(f"--where {clip(where)}: {type(exc).__name__}: {exc}") from None
            return sorted(chosen), sorted(set(group_ids) - present)

        return await self._run("choosing the targeted groups", fn)

    async def read_seen_rows(self, group_ids: Sequence[str]) -> list[PageRow]:
        vendor = self.vendor
        sql = desired_query(vendor, "read_seen_rows")
        records = await self._run(f"reading {vendor}'s desired rows", lambda c: c.fetch(sql, group_ids, vendor))
        return [PageRow(*r[:10]) for r in records]

    async def read_desired(self, group_ids: Sequence[str]) -> dict[str, DesiredRecord]:
        if not group_ids:
            return {}
        vendor = self.vendor
        sql = desired_query(vendor, "read_desired_rows")
        records = await self._run(f"reading {vendor}'s desired rows", lambda c: c.fetch(sql, group_ids))
        return {r[0]: DesiredRecord(*r) for r in records}

    async def count_desired(self, shard: Shard = UNSHARDED) -> int:
        sql = desired_query(self.vendor, "count_desired")
        count: int = await self._run("counting desired rows", lambda c: c.fetchval(sql, shard.count, shard.index))
        return count

    async def desired_shapes(self) -> list[str]:
        """Every distinct shape of the desired rows (what `syncer check` reads of them)."""
        sql = desired_query(self.vendor, "desired_shapes")
        rows = await self._run("reading the desired rows' shapes", lambda c: c.fetch(sql))
        return [r[0] for r in rows if r[0] is not None]

    async def missing_privileges(self) -> list[tuple[str, str]]:
        """The privileges on syncer's own tables a run needs and this role lacks, as (table, privilege)."""
        rows = await self._run("reading privileges", lambda c: c.fetch(query("missing_privileges")))
        return [(r[0], r[1]) for r in rows]

    async def last_completed_run(self, shard: Shard = UNSHARDED) -> tuple[datetime | None, int]:
        """Start of this shard's last run that went to its end, and its incremental runs since
        its last full one."""
        sql = query("last_completed_run")
        vendor = self.vendor
        row = await self._run("reading past runs", lambda c: c.fetchrow(sql, shard.count, shard.index, vendor))
        assert row is not None
        return row["since"], int(row["incremental_since_full"])

    async def start_run(self, mode: str, shard: Shard = UNSHARDED, lock_pid: int | None = None) -> int:
        sql, vendor = query("insert_run"), self.vendor
        run_id: int = await self._run(
            "recording the run", lambda c: c.fetchval(sql, mode, shard.index, shard.count, lock_pid, vendor)
        )
        return run_id

    async def record_groups(self, run_id: int, results: Sequence[GroupResult]) -> None:
        if not results:
            return
        outcomes = dumps_text(
            [
                (
                    r.group_id,
                    r.outcome,
                    r.error_code,
                    r.error_message,
                    r.warnings,
                    r.applied,
                    r.attrs_fingerprint,
                    r.desired_digest,
                    r.live_digest,
                    r.answer_digest,
                    journal_of(r),
                )
                for r in results
            ]
        )
        sql, vendor = query("upsert_group_states"), self.vendor
        await self._run("recording group outcomes", lambda c: c.execute(sql, run_id, outcomes, vendor))

    async def record_unchanged(self, run_id: int, batches: Sequence[UnchangedBatch]) -> None:
        """Groups this run found exactly as they were last seen in line, by the batch answer they
        were found in."""
        if not batches:
            return
        sql, vendor = query("record_unchanged_groups"), self.vendor
        ids, digests = [b.group_ids for b in batches], [b.answer_digest for b in batches]
        await self._run("recording group outcomes", lambda c: c.execute(sql, run_id, vendor, ids, digests))

    async def finish_run(self, run_id: int, totals: RunTotals) -> None:
        await self._run(
            "recording the end of the run",
            lambda c: c.execute(
                query("finish_run"),
                run_id,
                totals.status,
                totals.groups_read,
                totals.in_sync,
                totals.updated,
                totals.rejected,
                totals.failed,
                totals.not_found,
                totals.warnings,
                json.dumps(totals.calls),
                totals.error,
                totals.held_back,
            ),
        )

    # -- the change journal ----------------------------------------------------------------------

    async def history(self, group_id: str, limit: int = 100) -> list[JournalEntry]:
        """See :meth:`syncer.ports.Store.history`."""
        sql, vendor = query("group_history"), self.vendor
        rows = await self._run("reading the change journal", lambda c: c.fetch(sql, vendor, group_id, limit))
        return [JournalEntry(r[0], r[1], r[2], _json(r[3]), _json(r[4]), r[5]) for r in rows]

    async def run_changes(self, run_id: int) -> dict[str, list[FieldChange]]:
        """See :meth:`syncer.ports.Store.run_changes`."""
        sql, vendor = query("run_changes"), self.vendor
        rows = await self._run("reading the change journal", lambda c: c.fetch(sql, run_id, vendor))
        found: dict[str, list[FieldChange]] = {}
        for r in rows:
            found.setdefault(r[0], []).append(FieldChange(r[1], _json(r[2]), _json(r[3])))
        return found

    async def prune_journal(self, older_than_days: float) -> int:
        """Drop the journal's entries and the saved plans older than ``older_than_days`` (every
        vendor's); how many of each."""
        journal, plans = query("prune_journal"), query("prune_plans")

        async def fn(conn: Connection) -> int:
            return int(await conn.fetchval(journal, older_than_days)) + int(await conn.fetchval(plans, older_than_days))

        gone: int = await self._run("pruning the change journal", fn)
        return gone

    # -- saved plans ------------------------------------------------------------------------------

    async def save_plan(self, app: str, groups: int, body: bytes) -> int:
        """A plan's bytes kept in Postgres; its ID."""
        sql, vendor = query("save_plan"), self.vendor
        plan_id: int = await self._run("saving the plan", lambda c: c.fetchval(sql, vendor, app, groups, body))
        return plan_id

    async def saved_plan(self, plan_id: int) -> bytes | None:
        sql = query("saved_plan")
        body: bytes | None = await self._run("reading the saved plan", lambda c: c.fetchval(sql, plan_id))
        return body

    # -- what `syncer status` shows ---------------------------------------------------------------

    async def status(self, *, runs: int = 10, groups: int = 50) -> Status:
        async def fn(conn: Connection) -> Status:
            run_rows = await conn.fetch(query("recent_runs"), runs)
            counts = await conn.fetch(query("groups_by_outcome"))
            troubled = await conn.fetch(query("troubled_groups"), groups)
            return Status(
                runs=[
                    RunRecord(
                        run_id=r["run_id"],
                        vendor=r["vendor"],
                        mode=r["mode"],
                        status=r["status"],
                        shard=f"{r['shard_index']}/{r['shard_count']}",
                        started_at=r["started_at"],
                        finished_at=r["finished_at"],
                        groups_read=r["groups_read"],
                        outcomes={
                            k: r[k] for k in ("in_sync", "updated", "rejected", "failed", "not_found", "held_back")
                        },
                        calls=_json(r["calls"]) or {},
                        error=r["error"],
                        changes=r["changes"],
                    )
                    for r in run_rows
                ],
                groups_by_outcome=_by_vendor(counts),
                troubled=[TroubledGroup(*r) for r in troubled],
            )

        return await self._run("reading syncer's records", fn)


def _page_item(r: asyncpg.Record) -> PageRow | SeenBatch:
    """A page query's row (sql/queries.sql: read_desired_page): one group, or a seen batch."""
    group_ids = r[10]
    if group_ids is None:
        return PageRow(*r[:10])
    return SeenBatch(r[0], r[3], group_ids, r[6], r[7], r[5])


def _by_vendor(counts: Sequence[asyncpg.Record]) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for r in counts:
        found.setdefault(r["vendor"], {})[r["outcome"]] = r["groups"]
    return found
