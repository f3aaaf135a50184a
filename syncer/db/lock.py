"""One run at a time: a Postgres advisory lock on a connection of its own, watched for as long
as the run lasts.

A session-level advisory lock lives exactly as long as its connection. A connection can go
while the run goes on (``idle_session_timeout``, ``pg_terminate_backend``, a restart, a
failover), and the lock with it: the holder must find out and stop sending before another run
can take the lock and send beside it. So the lock's connection is never idle (it is asked every
``heartbeat_s`` whether it still holds its locks, and is exempt from ``idle_session_timeout``),
and the first answer that says no, or no answer within ``check_timeout_s``, sets ``lost``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import structlog

from syncer.db.sqlfiles import query
from syncer.errors import DatabaseError, RunLocked
from syncer.ports import LockTimings, RunLock
from syncer.quoting import clip
from syncer.settings import redact_url

log = structlog.get_logger("syncer.lock")


def lock_key(name: str) -> int:
    """The 64-bit advisory-lock key of a lock name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _app_key(name: str) -> int:
    """A non-negative 31-bit key: with the shard count as the second key, it shows in pg_locks
    as (classid, objid), so that a run can see which shard counts are held."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") >> 1


@asynccontextmanager
async def hold_run_lock(
    url: str, name: str, *, within: str | None, shard_count: int, timings: LockTimings
) -> AsyncIterator[RunLock]:
    """Hold the advisory lock ``name`` exclusively for the block.

    ``within``: the app's lock, held shared first by a shard, so that an unsharded run (which
    holds it exclusively) and shards exclude each other while shards run side by side. Every
    run also holds its shard count shared, and a run whose count differs from a live run's is
    refused: shards of two counts would split the groups two ways and send twice.
    Raises :class:`RunLocked` at once if another session holds what this run needs.
    """
    try:
        conn = await asyncpg.connect(url, timeout=timings.connect_timeout_s)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        raise DatabaseError(f"taking the run lock at {redact_url(url)}: {type(exc).__name__}: {exc}") from exc
    watcher: asyncio.Task[None] | None = None
    try:
        try:
            # Postgres 14+ ends idle sessions after idle_session_timeout: never this one.
            await conn.execute(query("keep_session"))
            await _take_shard_count(conn, within or name, shard_count)
            if within is not None:
                await _try_lock(conn, within, shared=True)
            await _try_lock(conn, name, shared=False)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise DatabaseError(f"taking the run lock: {type(exc).__name__}: {clip(str(exc))}") from exc
        held = RunLock(conn.get_server_pid())
        expected = 3 if within is not None else 2
        watcher = asyncio.create_task(_watch(conn, held, expected, timings))
        yield held
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        with contextlib.suppress(Exception):
            await conn.close(timeout=5)


async def _take_shard_count(conn: asyncpg.Connection, app: str, count: int) -> None:
    key = _app_key(app)
    async with conn.transaction():
        # One run at a time looks and takes, so two runs of different counts starting at the
        # same moment cannot both find the other absent. (The transaction's lock goes with it;
        # the count's, a session lock, stays.)
        await conn.execute(query("shard_count_gate"), lock_key(f"{app}.shard-count"))
        other = await conn.fetchval(query("other_shard_count"), key, count)
        if other is not None:
            raise RunLocked(
                f"a run of {app!r} with {other} shard(s) is live in this database and this one has {count}: "
                "shards of two counts would split the groups two ways; this one leaves without any vendor call"
            )
        await conn.execute(query("take_shard_count"), key, count)


async def _try_lock(conn: asyncpg.Connection, name: str, *, shared: bool) -> None:
    key = lock_key(name)
    if not await conn.fetchval(query("try_run_lock_shared" if shared else "try_run_lock"), key):
        holder = await conn.fetchval(query("run_lock_holder"), key)
        raise RunLocked(
            f"another syncer run is already working on {name!r} in this database "
            f"(Postgres backend pid {holder}); this one leaves without any vendor call"
        )


async def _watch(conn: asyncpg.Connection, held: RunLock, expected: int, timings: LockTimings) -> None:
    while True:
        await asyncio.sleep(timings.heartbeat_s)
        try:
            count = await conn.fetchval(query("run_locks_held"), timeout=timings.check_timeout_s)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            held.reason = f"its connection to Postgres failed ({type(exc).__name__}: {clip(str(exc))})"
        else:
            if count >= expected:
                continue
            held.reason = f"Postgres no longer shows it held ({count} of {expected} locks)"
        log.error("run_lock_lost", reason=held.reason)
        held.lost.set()
        return
