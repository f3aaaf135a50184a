"""Nothing lost, whatever happens: faults, signals, concurrent runs, database trouble, bad input.

Every test runs against real Postgres and the emulator over HTTP; the signal tests kill a real
`syncer run` process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import replace

import asyncpg
import pytest

from syncer.db.store import PgStore
from syncer.emulator.server import Emulator
from syncer.emulator.state import EmuGroup
from syncer.errors import DatabaseError, RunLocked, RunLockLost
from syncer.tencent.models import DesiredGroup
from syncer.tencent.seeding import desired_group, drifted_dataset, live_from_desired

from .fakevendor import FakeVendor
from .helpers import fast, fetch, load_desired, mismatches, seeded, settings_for, sync
from .proxy import CuttableProxy
from .test_cli import environment, syncer


async def start_run(db: str, emulator: Emulator, *args: str) -> asyncio.subprocess.Process:
    """A real `syncer run` process against this test's database and emulator."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "syncer",
        "run",
        *args,
        env=os.environ | environment(db, emulator),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_every_fault_at_once_and_the_run_still_converges(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 800, seed=21)
    cfg = emulator.config
    cfg.fault_10002, cfg.fault_502, cfg.fault_drop, cfg.fault_throttle, cfg.fault_slow = 0.05, 0.03, 0.02, 0.03, 0.05
    cfg.slow_s = 4.0
    settings = settings_for(db, emulator, request_timeout_s=3.5, **fast(emulator))
    report = await sync(settings)
    assert report.exit_code == 0, report
    assert report.retries > 100  # the faults really happened …
    codes = {r.code for r in emulator.log}
    assert {10002, -502, -1, 60007} <= codes
    assert mismatches(data.desired, emulator) == []  # … and every group is as desired


async def test_what_still_fails_is_recorded_with_its_code_and_retried_first(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 300, seed=22, base_drift=1.0)
    victim = "grp-0000150"
    emulator.config.group_faults = {victim: 10002}
    settings = settings_for(db, emulator, **fast(emulator))
    first = await sync(settings)
    # One failed group of 300 is within the default threshold (1 %): the run succeeds all the same.
    assert (first.exit_code, first.status, first.outcomes["failed"]) == (0, "succeeded", 1)
    (row,) = await fetch(
        db, "SELECT outcome, error_code, error_message, attempts FROM group_sync_state WHERE group_id = $1", victim
    )
    assert (row["outcome"], row["error_code"], row["attempts"]) == ("failed", 10002, 1)
    assert "10002" in row["error_message"]

    emulator.config.group_faults = {}
    emulator.log.clear()
    second = await sync(settings)
    assert second.exit_code == 0
    assert emulator.log[0].group_ids == (victim,)  # the failed group is read first, on its own
    assert mismatches(data.desired, emulator) == []
    (row,) = await fetch(db, "SELECT outcome, attempts FROM group_sync_state WHERE group_id = $1", victim)
    assert (row["outcome"], row["attempts"]) == ("updated", 0)


async def test_a_vendor_that_goes_down_mid_run_costs_a_bounded_number_of_calls(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 500, seed=23)
    async with FakeVendor(emulator) as vendor:
        # The first batch read is answered; from then on, every call gets 502 from a proxy.
        vendor.answers["get_group_info"] = lambda body: (502, b"bad gateway") if vendor.requests[1:] else None
        vendor.answers["modify_group_base_info"] = vendor.answers["set_group_attr"] = lambda body: (502, b"")
        vendor.answers["get_group_attr"] = lambda body: (502, b"")
        settings = settings_for(
            db, emulator, base_url=vendor.base_url, retry_budget_floor=30, retry_budget_ratio=0.2, **fast(emulator)
        )
        report = await sync(settings)
    assert report.exit_code == 2 and report.outcomes["failed"] >= 450
    first_attempts = report.calls["get_group_info"]
    calls = sum(report.calls.values())
    assert report.retries <= 30 + 0.2 * (calls - report.retries) + 1  # the budget held
    assert first_attempts < 10 * settings.max_attempts


async def test_sigterm_stops_gracefully_records_what_finished_and_the_next_run_converges(
    db: str, emulator: Emulator
) -> None:
    data = await seeded(db, emulator, 1200, seed=24, base_drift=0.8)
    emulator.config.latency_s = 0.05
    process = await start_run(db, emulator, "--json")
    async with asyncio.timeout(60):
        await emulator.wait_for_calls(400)  # well into the run: it needs about 2,000 calls
    process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    exited = time.time()

    assert process.returncode == 143, err.decode()[-1500:]
    summary = json.loads(out.decode().splitlines()[0])["totals"]
    assert summary["status"] == "interrupted"
    # Every call it sent was answered before it exited (the calls in flight finished), and the
    # vendor saw no other.
    assert len(emulator.log) == sum(summary["calls"].values()) == emulator.arrivals
    assert max(r.wall for r in emulator.log) <= exited
    (run,) = await fetch(db, "SELECT status, finished_at FROM sync_runs")
    assert run["status"] == "interrupted" and run["finished_at"] is not None
    recorded = {r["group_id"]: r["outcome"] for r in await fetch(db, "SELECT group_id, outcome FROM group_sync_state")}
    assert 0 < len(recorded) < 1200
    for row in data.desired:  # every group recorded as done really is done
        if recorded.get(row.group_id) in ("updated", "in_sync"):
            assert mismatches([row], emulator) == [], row.group_id

    emulator.config.latency_s = 0
    report = await sync(settings_for(db, emulator, **fast(emulator)))
    assert report.exit_code == 0
    assert mismatches(data.desired, emulator) == []


async def test_sigint_exits_130_and_a_second_signal_exits_at_once(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 400, seed=25)
    emulator.config.latency_s = 60.0  # every call hangs: only the grace period or a second signal ends a run

    async def start(*args: str) -> asyncio.subprocess.Process:
        process = await start_run(db, emulator, *args)
        async with asyncio.timeout(30):
            await emulator.wait_for_calls(emulator.arrivals + 1)  # its first call has arrived
        return process

    graceful = await start("--grace-seconds", "1")
    graceful.send_signal(signal.SIGINT)
    await asyncio.wait_for(graceful.communicate(), 30)  # the grace period, not the 60 s calls
    assert graceful.returncode == 130

    hurried = await start()  # the default grace period: 25 s
    hurried.send_signal(signal.SIGTERM)
    assert hurried.stderr is not None
    async with asyncio.timeout(15):
        while b"run_stopping" not in await hurried.stderr.readline():
            pass  # the first signal has been taken: it is waiting out the calls in flight
    hurried.send_signal(signal.SIGTERM)
    # Had it waited for the calls in flight or the grace period, this would time out.
    await asyncio.wait_for(hurried.communicate(), 15)
    assert hurried.returncode == 143


async def test_a_second_run_sees_the_first_and_leaves_without_a_call(db: str, emulator: Emulator) -> None:
    await load_desired(db, [desired_group(1)])
    emulator.seed([live_from_desired(desired_group(1))])
    settings = settings_for(db, emulator)
    async with PgStore.open(db) as store, store.run_lock(f"syncer.run.tencent.{settings.tencent.sdkappid}"):
        second = await syncer("run", env=environment(db, emulator))
        with pytest.raises(RunLocked):
            await sync(settings)
    assert second.code == 3
    assert "another syncer run is already working" in second.err
    assert emulator.log == []
    assert (await sync(settings)).exit_code == 0  # released with the first run's connection


async def test_a_run_that_died_leaves_no_lock_behind(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 600, seed=26)
    emulator.config.latency_s = 0.05
    process = await start_run(db, emulator)
    async with asyncio.timeout(30):
        await emulator.wait_for_calls(20)
    process.kill()
    await process.wait()
    async with PgStore.open(db) as store, asyncio.timeout(10):
        # Recorded 'running', but its lock's backend is gone (Postgres notices the closed socket
        # within moments; poll rather than guess how long).
        while (await store.status()).runs[0].status != "abandoned":  # noqa: ASYNC110 - polling Postgres
            await asyncio.sleep(0.05)
    emulator.config.latency_s = 0
    report = await sync(settings_for(db, emulator, **fast(emulator)))
    assert report.exit_code == 0
    assert mismatches(data.desired, emulator) == []
    async with PgStore.open(db) as store:
        assert [r.status for r in (await store.status()).runs] == ["succeeded", "abandoned"]


async def test_postgres_unreachable_at_start_costs_no_vendor_call(emulator: Emulator) -> None:
    result = await syncer("run", env=environment("postgresql://nobody@127.0.0.1:1/none", emulator))
    assert result.code == 1 and "cannot connect to Postgres at postgresql://nobody@127.0.0.1:1/none" in result.err
    assert emulator.log == []


async def test_postgres_lost_mid_run_stops_and_records_nothing_that_was_not_applied(
    db: str, emulator: Emulator
) -> None:
    data = await seeded(db, emulator, 1500, seed=27, base_drift=0.9)
    proxy = CuttableProxy(db)
    via_proxy = await proxy.start()
    settings = settings_for(via_proxy, emulator, record_batch_size=50)  # real limits: about 8 s

    async def cut_later() -> None:
        async with asyncio.timeout(60):
            await emulator.wait_for_calls(800)  # a good part of the way: records have been written
        await proxy.cut()

    cutter = asyncio.create_task(cut_later())
    # Whichever the run notices first stops it: a recording that fails, or the run lock's
    # heartbeat finding its connection gone (under a loaded machine, often the heartbeat).
    with pytest.raises((DatabaseError, RunLockLost)):
        await sync(settings)
    await cutter
    # It stopped, it did not carry on blind: a whole run makes about 3,200 calls (every group's
    # attributes are read on a first run), and it had made 800 when Postgres went.
    assert len(emulator.log) < 2000

    recorded = {r["group_id"]: r["outcome"] for r in await fetch(db, "SELECT group_id, outcome FROM group_sync_state")}
    assert 0 < len(recorded) < 1500
    for row in data.desired:
        if recorded.get(row.group_id) in ("updated", "in_sync"):
            assert mismatches([row], emulator) == [], row.group_id
    report = await sync(settings_for(db, emulator, **fast(emulator)))
    assert report.exit_code == 0
    assert mismatches(data.desired, emulator) == []


async def test_rows_changing_while_the_run_reads_them(db: str, emulator: Emulator) -> None:
    data = drifted_dataset(600, seed=28)
    emulator.seed(data.live)
    late = [desired_group(i) for i in (5_000_000, 5_000_001)]
    early = replace(desired_group(0), group_id="grp-00000000")  # sorts before grp-0000001: a page already read
    emulator.seed([live_from_desired(replace(r, name="stale")) for r in [*late, early]])
    await load_desired(db, data.desired)
    emulator.config.latency_s = 0.02
    settings = settings_for(db, emulator, page_size=50, batches_in_flight=2)

    async def change_during_run() -> None:
        async with asyncio.timeout(30):
            await emulator.wait_for_calls(30)
        conn = await asyncpg.connect(db)
        try:
            await conn.execute(
                "UPDATE desired_group_profiles SET name = 'Renamed mid-run' WHERE group_id = 'grp-0000001'"
            )
        finally:
            await conn.close()
        await load_desired(db, [*late, early])

    changer = asyncio.create_task(change_during_run())
    first = await sync(settings)
    await changer
    assert first.status in ("succeeded", "partial")
    # Rows past the cursor when they appeared are read by this run; rows behind it, next run.
    assert all(emulator.groups[r.group_id].name == r.name for r in late)
    second = await sync(settings)
    assert second.exit_code == 0
    assert emulator.groups["grp-0000001"].name == "Renamed mid-run"
    assert emulator.groups["grp-00000000"].name == early.name


async def test_ids_that_differ_only_in_case_are_different_groups(db: str, emulator: Emulator) -> None:
    emulator.seed([EmuGroup("Team-A", name="x"), EmuGroup("team-a", name="y")])
    await load_desired(db, [DesiredGroup("Team-A", name="Upper"), DesiredGroup("team-a", name="lower")])
    report = await sync(settings_for(db, emulator))
    assert report.exit_code == 0
    assert (emulator.groups["Team-A"].name, emulator.groups["team-a"].name) == ("Upper", "lower")


async def test_a_write_whose_answer_never_came_is_not_recorded_as_applied(db: str, emulator: Emulator) -> None:
    row = desired_group(1)
    emulator.seed([live_from_desired(replace(row, name="Old name"))])
    await load_desired(db, [row])
    # The vendor applies the write but its answer comes after the client has given up.
    emulator.config.fault_slow, emulator.config.slow_s = 1.0, 4.0
    emulator.config.slow_commands = frozenset({"modify_group_base_info"})
    settings = settings_for(db, emulator, request_timeout_s=3.2, max_attempts=1)
    first = await sync(settings)
    assert first.exit_code == 2
    assert emulator.groups[row.group_id].name == row.name  # it did apply …
    (state,) = await fetch(db, "SELECT outcome, last_applied, error_message FROM group_sync_state")
    assert state["outcome"] == "failed" and state["last_applied"] is None  # … but nobody claims so
    assert "may or may not have applied" in state["error_message"]
    (journaled,) = await fetch(
        db, "SELECT field, before #>> '{}' AS was, after #>> '{}' AS now, outcome FROM group_changes"
    )
    assert tuple(journaled) == ("Name", "Old name", row.name, "unknown")  # journaled, as unknown

    emulator.config.fault_slow = 0.0
    emulator.log.clear()
    second = await sync(settings)  # the next read decides: nothing left to write
    assert second.exit_code == 0 and second.outcomes["in_sync"] == 1
    assert [r.command for r in emulator.log] == ["get_group_info"]
