"""Postgres: desired rows in, outcomes out. Driver errors become :class:`DatabaseError` here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import asyncpg

from syncer.db.lock import LockTimings, RunLock, hold_run_lock
from syncer.db.migrator import DesiredSetup, MigrationReport, check_derived, migrate
from syncer.db.sqlfiles import migrations, query, vendor_query
from syncer.errors import DatabaseError, SchemaError
from syncer.jsoncodec import dumps_text
from syncer.models import Desired, GroupResult, RunRecord, Status, SyncState, TroubledGroup
from syncer.settings import quote_ident, redact_url
from syncer.sharding import UNSHARDED, Shard

T = TypeVar("T")
Selection = Literal["all", "failed", "changed"]
if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection = PoolConnectionProxy[asyncpg.Record]
else:
    Connection = asyncpg.Connection


class DesiredRow:
    """One desired row as its vendor's page query answered it, with the group's recorded state.

    ``raw``: the page's columns, what settles a group found as it was last seen in line (see
    sql/vendors/). ``full``: every column of the row, read (:meth:`PgStore.complete`) only for
    the groups a run must look at in full; ``group``, the vendor's model of it, is decoded from
    ``full`` on first use. A run makes one of these for every group it reads, so it holds the
    page's row and reads what it needs from it when asked, rather than copying it out.
    """

    __slots__ = ("_decode", "_group", "_state", "full", "group_id", "raw")

    def __init__(self, raw: Row, decode: Callable[[Row], Desired]) -> None:
        self.raw = raw
        self.full: Row | None = None
        self._decode = decode
        self._group: Desired | None = None
        self._state: SyncState | None = None
        self.group_id: str = raw["group_id"]

    @property
    def wanted(self) -> bool:
        """False: the page's last row, returned only to carry the cursor on."""
        wanted: bool = self.raw["wanted"]
        return wanted

    @property
    def state(self) -> SyncState:
        if self._state is None:
            raw = self.raw
            self._state = SyncState(raw["attrs_fingerprint"], raw["attrs_checked_age_s"])
        return self._state

    @property
    def group(self) -> Desired:
        if self._group is None:
            if self.full is None:
                raise RuntimeError(f"desired row {self.group_id!r} was not read in full")
            self._group = self._decode(self.full)
        return self._group

    @property
    def desired_digest(self) -> str | None:
        """The digest of the row's managed columns, as read in full."""
        return None if self.full is None else self.full["desired_digest"]

    @property
    def seen_in_line(self) -> bool:
        """The row is the one a run last saw in line (so it was valid then, and is now)."""
        return self.live_digest is not None

    @property
    def live_digest(self) -> str | None:
        """The digest of the vendor's answer for the group when it was last seen in line, while
        the row is still the one seen then."""
        digest: str | None = self.raw["live_digest"]
        return digest

    @property
    def answer_digest(self) -> str | None:
        """The digest of the batch answer the group was last seen in line in, while the row is
        still the one seen then."""
        digest: str | None = self.raw["answer_digest"]
        return digest


class SeenBatch:
    """A whole batch of groups a run last saw in line in one batch answer, each desired row
    unchanged since, as one row of the page query (see sql/vendors/: read_desired_page). Read
    again as that batch, one answer byte for byte the same settles them all; only otherwise are
    they looked at one by one (:meth:`PgStore.read_seen_rows`).

    ``raw``: the page query's row; its ``group_ids`` are the batch's IDs in order, one per line.
    """

    __slots__ = ("raw",)

    def __init__(self, raw: Row) -> None:
        self.raw = raw

    @property
    def group_ids_text(self) -> str:
        text: str = self.raw["group_ids"]
        return text

    @property
    def group_ids(self) -> list[str]:
        return self.group_ids_text.split("\n")

    @property
    def answer_digest(self) -> str:
        digest: str = self.raw["answer_digest"]
        return digest


@dataclass(slots=True)  # not frozen: one per batch, and a frozen __init__ costs twice as much
class UnchangedBatch:
    """Groups found exactly as they were last seen in line, all in one batch answer: their IDs,
    one per line, and the digest of that answer (None for none)."""

    group_ids: str
    answer_digest: str | None


@dataclass(frozen=True, slots=True)
class DbTimeouts:
    """How long syncer waits for Postgres: to connect, and for any one statement (the server
    is told the same, and as its lock_timeout)."""

    connect_s: float = 10.0
    statement_s: float = 60.0


class Row(Protocol):
    """A row of a query's answer, by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class DesiredSource:
    """A vendor's desired table: its queries are sql/vendors/<vendor>.sql, and ``decode`` turns
    one of their rows into the vendor's desired model. Its records say ``vendor``."""

    vendor: str
    decode: Callable[[Row], Desired]


@dataclass(frozen=True, slots=True)
class RunTotals:
    status: str
    groups_read: int
    in_sync: int
    updated: int
    rejected: int
    failed: int
    not_found: int
    warnings: int
    calls: dict[str, int]
    error: str | None = None


class Store(Protocol):
    """What the pipeline needs from the database."""

    async def read_desired_page(
        self,
        after: str | None,
        limit: int,
        *,
        run_id: int | None = None,
        selection: Selection = "all",
        since: datetime | None = None,
        shard: Shard = UNSHARDED,
        whole_batch: int = 0,
    ) -> list[DesiredRow | SeenBatch]: ...

    async def read_seen_rows(self, group_ids: Sequence[str]) -> list[DesiredRow]: ...

    async def complete(self, rows: Sequence[DesiredRow]) -> None: ...

    async def count_desired(self, shard: Shard = UNSHARDED) -> int: ...

    async def last_completed_run(self, shard: Shard = UNSHARDED) -> tuple[datetime | None, int]: ...

    def run_lock(
        self, name: str, *, within: str | None = None, shard_count: int = 1, timings: LockTimings | None = None
    ) -> AbstractAsyncContextManager[RunLock]: ...

    async def orphaned_runs(self) -> list[int]: ...

    async def abandon_runs(self, run_ids: Sequence[int]) -> None: ...

    async def start_run(self, mode: str, shard: Shard = UNSHARDED, lock_pid: int | None = None) -> int: ...

    async def record_groups(self, run_id: int, results: Sequence[GroupResult]) -> None: ...

    async def record_unchanged(self, run_id: int, batches: Sequence[UnchangedBatch]) -> None: ...

    async def finish_run(self, run_id: int, totals: RunTotals) -> None: ...


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
    connection of its own), and asyncpg's default reset is a round trip that cost as much CPU
    as the query before it, twice per page of a run."""


class PgStore:
    """``source``: the vendor whose desired table and records this store reads and writes;
    only ``migrate``, the lock and ``status`` work without one."""

    def __init__(
        self, pool: asyncpg.Pool, url: str, source: DesiredSource | None = None, schema: str = "public"
    ) -> None:
        self._pool = pool
        self._url = url
        self._source = source
        self._schema = schema

    @property
    def source(self) -> DesiredSource:
        if self._source is None:
            raise RuntimeError("this PgStore was opened without a vendor's DesiredSource")
        return self._source

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        max_size: int = 4,
        source: DesiredSource | None = None,
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
        return cls(pool, url, source, schema)

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, source: DesiredSource | None = None, timeouts: DbTimeouts | None = None, schema: str = "public"
    ) -> AsyncIterator[PgStore]:
        store = await cls.connect(url, source=source, timeouts=timeouts, schema=schema)
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

    # -- one run at a time ------------------------------------------------------------------------

    def run_lock(
        self, name: str, *, within: str | None = None, shard_count: int = 1, timings: LockTimings | None = None
    ) -> AbstractAsyncContextManager[RunLock]:
        """The run lock (:mod:`syncer.db.lock`), on a connection of its own."""
        return hold_run_lock(self._url, name, within=within, shard_count=shard_count, timings=timings or LockTimings())

    async def orphaned_runs(self) -> list[int]:
        """This vendor's runs still marked running whose lock-holding backend is gone."""
        sql, vendor = query("orphaned_runs"), self.source.vendor
        rows = await self._run("reading past runs", lambda c: c.fetch(sql, vendor))
        return [r["run_id"] for r in rows]

    async def abandon_runs(self, run_ids: Sequence[int]) -> None:
        sql = query("abandon_runs")
        await self._run("recording abandoned runs", lambda c: c.execute(sql, list(run_ids)))

    # -- the pipeline's reads and writes ---------------------------------------------------------

    async def read_desired_page(
        self,
        after: str | None,
        limit: int,
        *,
        run_id: int | None = None,
        selection: Selection = "all",
        since: datetime | None = None,
        shard: Shard = UNSHARDED,
        whole_batch: int = 0,
    ) -> list[DesiredRow | SeenBatch]:
        """The next ``limit`` rows in group_id order after ``after`` (None: from the start).

        ``whole_batch``: the vendor's batch size. The rows of a whole batch that a run last saw in
        line in one answer, each unchanged since, come as one :class:`SeenBatch` (0: never).

        ``selection``: every row, only those the last run left ``failed``, or only those
        ``changed`` since ``since`` (plus never synced and not in line). Rows already recorded
        by ``run_id``, and those of other shards, are skipped. The last row of a page may be one that is not wanted
        (``DesiredRow.wanted`` False): it only carries the cursor on.
        """
        source = self.source
        args: tuple[object, ...]
        if selection == "failed":
            sql = vendor_query(source.vendor, "read_failed_page")
            args = (after or "", after is None, limit, shard.count, shard.index)
        else:
            sql = vendor_query(source.vendor, "read_desired_page")
            args = (after or "", after is None, limit, run_id or 0, selection, since, shard.count, shard.index)
            args += (whole_batch,)
        records = await self._run(f"reading {source.vendor}'s desired rows", lambda c: c.fetch(sql, *args))
        decode = source.decode
        return [DesiredRow(r, decode) if r["group_ids"] is None else SeenBatch(r) for r in records]

    async def read_seen_rows(self, group_ids: Sequence[str]) -> list[DesiredRow]:
        """The page rows of the groups named, one by one, in group_id order: those of a
        :class:`SeenBatch` that must be looked at group by group (a row deleted since is missing)."""
        source = self.source
        sql = vendor_query(source.vendor, "read_seen_rows")
        records = await self._run(f"reading {source.vendor}'s desired rows", lambda c: c.fetch(sql, group_ids))
        decode = source.decode
        return [DesiredRow(r, decode) for r in records]

    async def complete(self, rows: Sequence[DesiredRow]) -> None:
        """Read every column of those ``rows`` not yet read in full, in one query. A row deleted
        since its page was read stays without (``full`` None)."""
        missing = [row for row in rows if row.full is None]
        if not missing:
            return
        source = self.source
        sql = vendor_query(source.vendor, "read_desired_rows")
        ids = [row.group_id for row in missing]
        records = await self._run(f"reading {source.vendor}'s desired rows", lambda c: c.fetch(sql, ids))
        found = {r["group_id"]: r for r in records}
        for row in missing:
            row.full = found.get(row.group_id)

    async def count_desired(self, shard: Shard = UNSHARDED) -> int:
        sql = vendor_query(self.source.vendor, "count_desired")
        count: int = await self._run("counting desired rows", lambda c: c.fetchval(sql, shard.count, shard.index))
        return count

    async def last_completed_run(self, shard: Shard = UNSHARDED) -> tuple[datetime | None, int]:
        """Start of this shard's last run that went to its end, and its incremental runs since
        its last full one."""
        sql = query("last_completed_run")
        vendor = self.source.vendor
        row = await self._run("reading past runs", lambda c: c.fetchrow(sql, shard.count, shard.index, vendor))
        assert row is not None
        return row["since"], int(row["incremental_since_full"])

    async def start_run(self, mode: str, shard: Shard = UNSHARDED, lock_pid: int | None = None) -> int:
        sql, vendor = query("insert_run"), self.source.vendor
        run_id: int = await self._run(
            "recording the run", lambda c: c.fetchval(sql, mode, shard.index, shard.count, lock_pid, vendor)
        )
        return run_id

    async def record_groups(self, run_id: int, results: Sequence[GroupResult]) -> None:
        if not results:
            return
        args = (
            run_id,
            [r.group_id for r in results],
            [str(r.outcome) for r in results],
            [r.error_code for r in results],
            [r.error_message for r in results],
            [dumps_text(r.warnings) for r in results],
            [None if r.applied is None else dumps_text(r.applied) for r in results],
            [r.attrs_fingerprint for r in results],
            self.source.vendor,
            [r.desired_digest for r in results],
            [r.live_digest for r in results],
            [r.answer_digest for r in results],
        )
        await self._run("recording group outcomes", lambda c: c.execute(query("upsert_group_states"), *args))

    async def record_unchanged(self, run_id: int, batches: Sequence[UnchangedBatch]) -> None:
        """Groups this run found exactly as they were last seen in line, by the batch answer they
        were found in."""
        if not batches:
            return
        sql, vendor = query("record_unchanged_groups"), self.source.vendor
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
            ),
        )

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
                        outcomes={k: r[k] for k in ("in_sync", "updated", "rejected", "failed", "not_found")},
                        calls=_json(r["calls"]) or {},
                        error=r["error"],
                    )
                    for r in run_rows
                ],
                groups_by_outcome=_by_vendor(counts),
                troubled=[
                    TroubledGroup(
                        vendor=r["vendor"],
                        group_id=r["group_id"],
                        outcome=r["outcome"],
                        error_code=r["error_code"],
                        error_message=r["error_message"],
                        attempts=r["attempts"],
                        last_success_at=r["last_success_at"],
                        since=r["updated_at"],
                    )
                    for r in troubled
                ],
            )

        return await self._run("reading syncer's records", fn)


def _by_vendor(counts: Sequence[asyncpg.Record]) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for r in counts:
        found.setdefault(r["vendor"], {})[r["outcome"]] = r["groups"]
    return found
