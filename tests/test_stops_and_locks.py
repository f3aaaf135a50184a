"""The run lock holds or the run stops; shards agree on their count; a stop is obeyed in every
phase; the small dead ends end quietly. Real Postgres, real subprocesses, the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from syncer.db.lock import hold_run_lock
from syncer.db.store import PgStore
from syncer.emulator.server import Emulator
from syncer.errors import RunLocked, RunLockLost
from syncer.ports import LockTimings
from syncer.sharding import Shard

from .helpers import fast, fetch, seeded, settings_for, sync
from .test_cli import environment, start_syncer, syncer


async def _running_lock_pid(db: str) -> int:
    async with asyncio.timeout(30):
        while True:
            rows = await fetch(db, "SELECT lock_pid FROM sync_runs WHERE status = 'running'")
            if rows:
                return int(rows[0]["lock_pid"])
            await asyncio.sleep(0.02)


# -- 4. the run lock holds, or the run stops --------------------------------------------------


async def test_a_run_whose_lock_connection_is_terminated_stops_sending_and_fails(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 2000, seed=41, base_drift=0.9)
    emulator.config.latency_s = 0.02
    settings = settings_for(db, emulator, rate_limit=100, grace_period_s=1.0)
    run = asyncio.create_task(sync(settings))
    pid = await _running_lock_pid(db)
    async with asyncio.timeout(30):
        await emulator.wait_for_calls(20)
    await fetch(db, "SELECT pg_terminate_backend($1)", pid)
    with pytest.raises(RunLockLost, match="the run lock was lost"):
        await asyncio.wait_for(run, 30)
    sent = len(emulator.log)
    assert sent < 1000  # it stopped well before the end (about 2,000 calls at 100/s)
    (row,) = await fetch(db, "SELECT status, error, finished_at FROM sync_runs")
    assert row["status"] == "failed" and "run lock was lost" in row["error"] and row["finished_at"]


async def test_an_idle_session_timeout_shorter_than_the_run_does_not_take_the_lock(db: str, emulator: Emulator) -> None:
    (row,) = await fetch(db, "SELECT current_database() AS name")
    await fetch(db, f'ALTER DATABASE "{row["name"]}" SET idle_session_timeout = 400')
    await seeded(db, emulator, 600, seed=42, base_drift=0.9)
    settings = settings_for(db, emulator, rate_limit=150)  # about 4 s of writes
    run = asyncio.create_task(sync(settings))
    await _running_lock_pid(db)
    await asyncio.sleep(1.5)  # idle sessions older than 400 ms would be gone by now
    with pytest.raises(RunLocked):
        await sync(settings)  # the lock still holds
    report = await asyncio.wait_for(run, 60)
    assert report.exit_code == 0, report


async def test_a_refused_run_names_this_databases_holder_not_anothers(
    db: str, new_database: Callable[[], Awaitable[str]]
) -> None:
    timings = LockTimings()
    async with contextlib.AsyncExitStack() as stack:
        # Other deployments on the same server, each holding the same app's lock in its database.
        for _ in range(4):
            other = await new_database()
            await stack.enter_async_context(
                hold_run_lock(other, "tencent.1", within=None, shard_count=1, timings=timings)
            )
        async with hold_run_lock(db, "tencent.1", within=None, shard_count=1, timings=timings) as here:
            with pytest.raises(RunLocked) as refused:
                async with hold_run_lock(db, "tencent.1", within=None, shard_count=1, timings=timings):
                    pass
    assert f"(Postgres backend pid {here.pid})" in str(refused.value), str(refused.value)


# -- 5. shards agree on their count -----------------------------------------------------------


async def test_a_run_with_another_shard_count_than_a_live_one_refuses_before_any_call(
    db: str, emulator: Emulator
) -> None:
    await seeded(db, emulator, 50, seed=43)
    app = f"syncer.run.tencent.{emulator.config.sdkappid}"
    async with PgStore.open(db) as store, store.run_lock(f"{app}.shard.0.of.2", within=app, shard_count=2):
        for count in (3, 1):
            settings = settings_for(db, emulator, shard=Shard(0 if count == 1 else 1, count), **fast(emulator))
            with pytest.raises(RunLocked, match=r"with 2 shard\(s\) is live .* this one has " + str(count)):
                await sync(settings)
        result = await syncer("run", "--shard-index", "2", "--shard-count", "3", env=environment(db, emulator))
        assert result.code == 3 and "2 shard(s)" in result.err
        assert emulator.log == []
        # The same count runs beside it.
        other = await sync(settings_for(db, emulator, shard=Shard(1, 2), **fast(emulator)))
        assert other.exit_code == 0


# -- 10. a stop is obeyed at any moment --------------------------------------------------------


@pytest.fixture
async def silent_server() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A server that accepts connections and never answers: Postgres as a hung host looks."""
    accepted = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        accepted.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"postgresql://syncer@127.0.0.1:{port}/app", accepted
    finally:
        for writer in held:
            writer.close()
        server.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_while_connecting_to_a_postgres_that_never_answers_is_obeyed_at_once(
    emulator: Emulator, silent_server: tuple[str, asyncio.Event], sig: signal.Signals
) -> None:
    url, accepted = silent_server
    process = await start_syncer("run", env=environment(url, emulator))
    await asyncio.wait_for(accepted.wait(), 30)
    process.send_signal(sig)
    # The connect timeout (10 s) would end it too: it must not be what does.
    _, err = await asyncio.wait_for(process.communicate(), 5)
    assert process.returncode == 128 + sig, err.decode()
    assert "Traceback" not in err.decode() and "KeyboardInterrupt" not in err.decode()
    assert emulator.log == []


async def test_a_stop_while_a_query_waits_on_a_locked_table_is_obeyed_within_the_grace_period(
    db: str, emulator: Emulator
) -> None:
    await seeded(db, emulator, 100, seed=44)
    blocker = await asyncpg.connect(db)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE desired_group_profiles IN ACCESS EXCLUSIVE MODE")
        process = await start_syncer("run", "--grace-seconds", "2", env=environment(db, emulator))
        async with asyncio.timeout(30):
            # Asked on a connection of its own: inside the blocker's transaction, the activity
            # view would show one snapshot throughout.
            # This database's alone: the server's other databases are other tests' (pytest-xdist).
            waiting = "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            while not (await fetch(db, waiting)):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 12)
        await transaction.rollback()
    finally:
        await blocker.close()
    assert process.returncode == 143, err.decode()
    assert "Traceback" not in err.decode()
    runs = await fetch(db, "SELECT status FROM sync_runs")
    assert [r["status"] for r in runs] in ([], ["interrupted"])
    assert emulator.log == []


# -- 12. the small dead ends end quietly ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env_extra", "says"),
    [
        (["--max-attempts", "0"], {}, "--max-attempts (env SYNCER_MAX_ATTEMPTS): '0' is out of range: at least 1"),
        (["--max-attempts", "many"], {}, "--max-attempts (env SYNCER_MAX_ATTEMPTS): 'many' is not a whole number"),
        (["--metrics-port", "99999"], {}, "--metrics-port (env SYNCER_METRICS_PORT): '99999' is out of range"),
        ([], {"SYNCER_METRICS_PORT": "99999"}, "SYNCER_METRICS_PORT (or --metrics-port): '99999' is out of range"),
        ([], {"SYNCER_DATABASE_URL": "mysql://root@db/app"}, "mysql://db is not a postgresql:// or postgres:// URL"),
        (["--database-url", "mysql://root:pw@db/app"], {}, "mysql://db is not a postgresql:// or postgres:// URL"),
        (["--shard-count", "four"], {}, "--shard-count (env SYNCER_SHARD_COUNT): 'four' is not a whole number"),
        (["--sdkappid", "14e8"], {}, "--sdkappid (env TENCENT_IM_SDKAPPID): '14e8' is not a number"),
    ],
)
async def test_a_setting_out_of_range_exits_78_with_one_line(
    db: str, emulator: Emulator, args: list[str], env_extra: dict[str, str], says: str
) -> None:
    result = await syncer("run", *args, env=environment(db, emulator) | env_extra)
    assert result.code == 78, result.err
    assert says in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert emulator.log == []


async def test_plan_json_into_head_ends_quietly(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 500, seed=45, base_drift=1.0)  # a plan past the pipe's 64 KB
    env = environment(db, emulator)
    import os

    process = await asyncio.create_subprocess_shell(
        f"{sys.executable} -m syncer plan --json | head -n 1",
        env={k: v for k, v in os.environ.items() if not k.startswith(("SYNCER_", "TENCENT_IM_"))} | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert json.loads(out.decode())["totals"]["would_change"] > 0 if "totals" in out.decode() else out
    assert "Traceback" not in err.decode() and "BrokenPipe" not in err.decode(), err.decode()[-2000:]
    # A reader gone before a word is written (`| less` quit at once, `| true`): as quiet.
    for verb in ("status", "plan", "history grp-0000001"):
        process = await asyncio.create_subprocess_shell(
            f"{sys.executable} -m syncer {verb} | true",
            env={k: v for k, v in os.environ.items() if not k.startswith(("SYNCER_", "TENCENT_IM_"))} | env,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert all(line.startswith("{") for line in err.decode().splitlines()), (verb, err.decode()[-2000:])


async def test_the_emulator_on_a_port_taken_exits_78_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await start_syncer("emulator", "--port", str(port), env={})
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 78, err.decode()
    assert f"cannot listen on 127.0.0.1:{port}" in err.decode()
    assert "Traceback" not in err.decode()


async def test_library_log_records_are_json_lines_too() -> None:
    # asyncpg and asyncio log through the standard library, syncer through structlog: in JSON,
    # every line on stderr must be one JSON object, a traceback included.
    code = (
        "import logging; from syncer.logs import configure_logging; configure_logging('info', 'json');"
        "logging.getLogger('asyncpg.pool').error('pool trouble', exc_info=ValueError('x'));"
        "logging.getLogger('asyncio').warning('Task exception was never retrieved')"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    lines = err.decode().splitlines()
    assert len(lines) == 2, lines
    first = json.loads(lines[0])
    assert first["event"] == "pool trouble" and first["logger"] == "asyncpg.pool" and first["exception"]
    assert json.loads(lines[1])["level"] == "warning"
