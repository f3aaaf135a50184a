"""End to end on real parts: Postgres over a real connection, the emulator over HTTP on loopback."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from syncer.db.store import PgStore
from syncer.emulator.server import Emulator
from syncer.emulator.state import EmuGroup
from syncer.errors import CredentialsError, SchemaError
from syncer.models import GroupPlan
from syncer.pipeline import Reconciler
from syncer.settings import Secret
from syncer.tencent.client import TencentClient
from syncer.tencent.models import DesiredGroup
from syncer.tencent.seeding import desired_group, drifted_dataset, live_from_desired
from syncer.tencent.vendor import TencentVendor

from .helpers import emulator_process, fast, fetch, load_desired, mismatches, seeded, settings_for, sync, writes


async def test_drifted_groups_converge_and_a_second_run_only_reads(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 600, seed=1)
    settings = settings_for(db, emulator, **fast(emulator))
    assert len(mismatches(data.desired, emulator)) >= 250  # the data set really drifted

    first = await sync(settings)
    assert first.exit_code == 0, first
    assert mismatches(data.desired, emulator) == []
    assert first.outcomes["updated"] == len(data.drifted)
    assert first.outcomes["in_sync"] == 600 - len(data.drifted)

    second = await sync(settings)
    assert second.exit_code == 0
    assert writes(second) == 0
    assert second.calls == {"get_group_info": math.ceil(600 / 50)}  # no attribute reads either
    assert second.outcomes["in_sync"] == 600


async def test_the_vendor_never_sees_more_than_the_limit_in_any_sliding_second(db: str) -> None:
    # The real limits (200/s per command): about 4 s of attribute reads and 2 s of writes. The
    # emulator runs in a process of its own, as the vendor does: sharing the worker's event loop
    # would delay its arrival stamps by the worker's own CPU work. The emulator counts arrivals,
    # the limiter counts sends: the margin covers the jitter between the two. On this 2-core
    # machine, with the worker, the emulator and Postgres busy at once, the emulator stamps a
    # request up to ~70 ms after it was sent (measured: p99 42 ms, max 71 ms; bench/RESULTS.md),
    # so this test allows 100 ms. That the limit paced the run, the worker's own count shows.
    data = drifted_dataset(800, seed=2, base_drift=0.5, attr_drift=0.5)
    await load_desired(db, data.desired)
    async with emulator_process(
        "--seed-groups", "800", "--seed", "2", "--drift", "0.5", "--attr-drift", "0.5"
    ) as remote:
        report = await sync(remote.settings(db, limiter_margin_s=0.1))
        stats = await remote.get("stats")
        groups = await remote.get("groups")
        log = await remote.get("log")
    assert report.exit_code == 0
    # The worker's own count of send times is exact: never over the limit.
    assert all(peak <= 200 for peak in report.peak_sends_per_second.values()), report.peak_sends_per_second
    # The limit, not anything else, paced the attribute reads: calls waited for their slots.
    assert report.held["get_group_attr"] > 0
    # The emulator counts arrivals. A burst on new connections reaches it late while the next
    # second's calls on warm ones do not; the client moves a slot to the latest its answer says
    # it may have arrived, so even then the emulator never counts one too many (without that,
    # this failed in 2 of 3 runs with the machine's two cores busy).
    refused = [(r["command"], r["code"], r["group_ids"][:1]) for r in log if r["code"] != 0]
    assert refused == [], refused
    assert report.throttled == 0
    peaks = stats["max_calls_per_window"]
    assert all(peak <= 200 for peak in peaks.values()), peaks  # what it accepted never crossed
    assert report.outcomes["updated"] == len(data.drifted)
    for row in data.desired:
        live = groups[row.group_id]
        assert (live["Name"], live["FaceUrl"], live["GroupAttr"]) == (row.name, row.face_url, row.group_attrs)


async def test_plan_reads_but_never_writes(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 120, seed=3)
    before = {gid: g.snapshot() for gid, g in emulator.groups.items()}
    plans: list[GroupPlan] = []
    report = await sync(
        settings_for(db, emulator, **fast(emulator)), dry_run=True, on_plan=lambda plan, _: plans.append(plan)
    )
    assert {r.command for r in emulator.log} == {"get_group_info", "get_group_attr"}
    assert {gid: g.snapshot() for gid, g in emulator.groups.items()} == before
    assert report.would_change == len(data.drifted)
    assert {p.group_id for p in plans if not p.in_sync} == data.drifted
    conn = await asyncpg.connect(db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM group_sync_state") == 0
    finally:
        await conn.close()


INVALID_ROWS: dict[str, dict[str, Any]] = {
    "bad-name": {"name": "n" * 31},
    "bad-name-utf8": {"name": "名" * 11},
    "bad-intro": {"introduction": "i" * 241},
    "bad-notice": {"notification": "n" * 301},
    "bad-face": {"face_url": "f" * 101},
    "bad-apply": {"apply_join_option": "Open"},
    "bad-invite": {"invite_join_option": "Open"},
    "bad-max": {"max_member_num": 0},
    "bad-ckey": {"app_defined_data": {"k" * 17: "v"}},
    "bad-cval": {"app_defined_data": {"k": "v" * 513}},
    "bad-ccount": {"app_defined_data": {f"k{i}": "v" for i in range(11)}},
    "bad-cnum": {"app_defined_data": {"k": 7}},
    "bad-akey": {"group_attrs": {"a" * 33: "v"}},
    "bad-aval": {"group_attrs": {"a": "v" * 4001}},
    "bad-acount": {"group_attrs": {f"a{i}": "v" for i in range(17)}},
    "bad-atotal": {"group_attrs": {f"a{i}": "v" * 3500 for i in range(5)}},
    "bad-atype": {"group_attrs": {"a": 1}},
    "bad-aarray": {"group_attrs": [{"key": "a", "value": "1"}]},
    "bad-id-" + "x" * 45: {},
}
INVALID_FIELD = {
    "bad-name": "name",
    "bad-name-utf8": "name",
    "bad-intro": "introduction",
    "bad-notice": "notification",
    "bad-face": "face_url",
    "bad-apply": "apply_join_option",
    "bad-invite": "invite_join_option",
    "bad-max": "max_member_num",
    "bad-ckey": "app_defined_data",
    "bad-cval": "app_defined_data",
    "bad-ccount": "app_defined_data",
    "bad-cnum": "app_defined_data",
    "bad-akey": "group_attrs",
    "bad-aval": "group_attrs",
    "bad-acount": "group_attrs",
    "bad-atotal": "group_attrs",
    "bad-atype": "group_attrs",
    "bad-aarray": "group_attrs",
    "bad-id-" + "x" * 45: "group_id",
}


async def test_each_invalid_kind_is_rejected_without_a_call_while_the_rest_converge(
    db: str, emulator: Emulator
) -> None:
    data = drifted_dataset(150, seed=4)
    invalid = []
    for i, (group_id, change) in enumerate(INVALID_ROWS.items()):
        row = replace(desired_group(10_000 + i), group_id=group_id, **change)
        invalid.append(row)
        emulator.seed([live_from_desired(replace(desired_group(10_000 + i), group_id=group_id))])
    emulator.seed(data.live)
    await load_desired(db, data.desired + invalid)

    report = await sync(settings_for(db, emulator, **fast(emulator)))
    assert report.exit_code == 2
    assert report.outcomes["rejected"] == len(INVALID_ROWS)
    assert report.outcomes["failed"] == 0
    assert mismatches(data.desired, emulator) == []
    touched = {gid for record in emulator.log for gid in record.group_ids}
    assert touched.isdisjoint(INVALID_ROWS), touched & set(INVALID_ROWS)

    rows = await fetch(
        db,
        "SELECT group_id, outcome, error_message FROM group_sync_state WHERE outcome <> 'in_sync' AND outcome <> 'updated'",
    )
    assert {r["group_id"] for r in rows} == set(INVALID_ROWS)
    for r in rows:
        assert r["outcome"] == "rejected"
        assert r["error_message"].startswith(f"group {r['group_id']!r}: {INVALID_FIELD[r['group_id']]}")
        assert "limit" in r["error_message"] or "one of" in r["error_message"] or "must" in r["error_message"]


async def test_an_answer_over_the_size_limit_splits_the_batch(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 50, seed=5)
    emulator.config.max_answer_bytes = 12_000  # 50 groups' answer is ~22 KB; 25 groups' fits
    report = await sync(settings_for(db, emulator, **fast(emulator)))
    assert report.exit_code == 0
    codes = [r.code for r in emulator.calls("get_group_info")]
    assert codes[0] == 10018
    assert codes.count(0) >= 2
    sizes = sorted(len(r.group_ids) for r in emulator.calls("get_group_info") if r.code == 0)
    assert sum(sizes) == 50 and max(sizes) <= 25
    assert mismatches(data.desired, emulator) == []


async def test_a_field_the_group_type_refuses_is_skipped_with_a_warning(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 40, seed=6, restricted=4)
    settings = settings_for(db, emulator, **fast(emulator))
    report = await sync(settings)
    assert report.exit_code == 0  # a warning, not a failure
    assert report.groups_with_warnings == 4
    assert all(r.code == 0 for r in emulator.calls("modify_group_base_info"))  # no 10007 provoked
    # A group with a warning is never taken as seen in line: every run warns again.
    again = await sync(settings)
    assert again.groups_with_warnings == 4 and again.outcomes["in_sync"] == 40
    conn = await asyncpg.connect(db)
    try:
        rows = await conn.fetch("SELECT group_id, warnings, live_digest FROM group_sync_state WHERE warnings <> '[]'")
    finally:
        await conn.close()
    assert {r["group_id"] for r in rows} == data.restricted
    for r in rows:
        assert r["live_digest"] is None
        warnings = json.loads(r["warnings"])
        assert any("MaxMemberNum" in w for w in warnings)
        assert all("cannot be changed for AVChatRoom groups" in w for w in warnings)


async def test_throttling_answers_are_retried_and_the_run_converges(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 300, seed=7)
    emulator.config.fault_throttle = 0.15
    report = await sync(settings_for(db, emulator, **fast(emulator)))
    assert report.throttled > 20
    assert report.exit_code == 0
    assert mismatches(data.desired, emulator) == []


async def test_groups_missing_at_the_vendor_are_recorded_not_found_and_not_retried(db: str, emulator: Emulator) -> None:
    rows = [desired_group(i) for i in range(60)]
    emulator.seed([live_from_desired(r) for r in rows[:55]])
    await load_desired(db, rows)
    report = await sync(settings_for(db, emulator, **fast(emulator)))
    assert report.exit_code == 2
    assert report.outcomes["not_found"] == 5
    assert report.calls["get_group_info"] == 2
    missing = {r.group_id for r in rows[55:]}
    assert all(missing.isdisjoint(r.group_ids) for r in emulator.log if r.command != "get_group_info")


async def test_attribute_reads_are_skipped_when_unchanged_and_check_attrs_catches_outside_drift(
    db: str, emulator: Emulator
) -> None:
    data = await seeded(db, emulator, 100, seed=8)
    settings = settings_for(db, emulator, **fast(emulator))
    await sync(settings)
    emulator.groups["grp-0000042"].attrs = {"changed": "by someone else"}

    quiet = await sync(settings)
    assert "get_group_attr" not in quiet.calls  # nothing in the desired table changed
    assert emulator.groups["grp-0000042"].attrs == {"changed": "by someone else"}

    full = await sync(replace(settings, check_attrs=True))
    assert full.calls["get_group_attr"] == 100
    assert full.calls["set_group_attr"] == 1
    assert mismatches(data.desired, emulator) == []

    # A changed desired set is read and written without any flag.
    conn = await asyncpg.connect(db)
    try:
        await conn.execute("UPDATE desired_group_profiles SET group_attrs = '{}' WHERE group_id = 'grp-0000007'")
    finally:
        await conn.close()
    changed = await sync(settings)
    assert changed.calls["get_group_attr"] == 1
    assert changed.calls["delete_group_attr"] == 1
    assert emulator.groups["grp-0000007"].attrs == {}

    # The periodic full check: attributes confirmed longer ago than attr_recheck_s are read.
    periodic = await sync(replace(settings, attr_recheck_s=0))
    assert periodic.calls["get_group_attr"] == 100


async def test_wrong_credentials_stop_the_run_at_the_first_answer(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 500, seed=9)
    settings = settings_for(db, emulator, secret_key=Secret("0" * 64))
    with pytest.raises(CredentialsError) as err:
        await sync(settings)
    assert "TENCENT_IM_SECRET_KEY" in str(err.value)
    assert len(emulator.log) == 1
    conn = await asyncpg.connect(db)
    try:
        run = await conn.fetchrow("SELECT status, error FROM sync_runs")
    finally:
        await conn.close()
    assert run is not None and run["status"] == "failed" and "TENCENT_IM_SECRET_KEY" in run["error"]


async def test_a_non_admin_identifier_names_the_admin_setting(db: str, emulator: Emulator) -> None:
    await load_desired(db, [desired_group(1)])
    emulator.seed([live_from_desired(desired_group(1))])
    with pytest.raises(CredentialsError) as err:
        await sync(settings_for(db, emulator, admin="bob"))
    assert "TENCENT_IM_ADMIN" in str(err.value)


async def test_an_expired_usersig_is_renewed_once_and_the_call_retried(db: str, emulator: Emulator) -> None:
    await load_desired(db, [desired_group(1)])
    emulator.seed([live_from_desired(desired_group(1))])
    settings = settings_for(db, emulator)
    # The first UserSig is signed three days ago, so it has expired; later ones are current.
    readings = iter([time.time() - 3 * 86400])
    client = TencentClient(settings, wall_clock=lambda: next(readings, time.time()))
    async with PgStore.open(db, "tencent") as store, client:
        answer = await client.call("get_group_info", {"GroupIdList": ["grp-0000001"]})
        report = await Reconciler(settings, store, TencentVendor(settings, client)).run()
    assert answer["GroupInfo"][0]["ErrorCode"] == 0
    assert [r.code for r in emulator.log[:2]] == [70001, 0]
    assert report.exit_code == 0


async def test_outcomes_and_runs_are_recorded(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 120, seed=10, invalid=2)
    report = await sync(settings_for(db, emulator, **fast(emulator)))
    conn = await asyncpg.connect(db)
    try:
        rows = await conn.fetch("SELECT outcome, count(*) FROM group_sync_state GROUP BY outcome")
        counts = {r[0]: r[1] for r in rows}
        run = await conn.fetchrow("SELECT * FROM sync_runs WHERE run_id = $1", report.run_id)
        updated = await conn.fetchrow(
            "SELECT last_applied, last_success_at, attempts, attrs_fingerprint FROM group_sync_state "
            "WHERE outcome = 'updated' ORDER BY group_id LIMIT 1"
        )
        rejected = await conn.fetchrow(
            "SELECT attempts, last_success_at FROM group_sync_state WHERE outcome = 'rejected' LIMIT 1"
        )
    finally:
        await conn.close()
    assert counts == {str(k): v for k, v in report.outcomes.items()}
    assert run is not None
    assert (run["status"], run["groups_read"], run["rejected"]) == ("partial", 120, 2)
    assert run["finished_at"] is not None
    assert json.loads(run["calls"]) == report.calls
    assert updated is not None and updated["last_success_at"] is not None and updated["attempts"] == 0
    assert json.loads(updated["last_applied"])
    assert rejected is not None and rejected["attempts"] == 1 and rejected["last_success_at"] is None


async def test_run_refuses_a_database_without_the_schema(fresh_db: str, emulator: Emulator) -> None:
    with pytest.raises(SchemaError, match="syncer migrate"):
        await sync(settings_for(fresh_db, emulator))
    assert emulator.log == []


async def test_custom_fields_null_deletes_and_unnamed_keys_stay(db: str, emulator: Emulator) -> None:
    emulator.config.enabled_custom_keys |= {"gone", "other"}
    emulator.seed([EmuGroup("g1", name="x", app_defined_data={"tier": "bronze", "gone": "x", "other": "keep"})])
    await load_desired(db, [DesiredGroup("g1", app_defined_data={"tier": "gold", "gone": None})])
    report = await sync(settings_for(db, emulator))
    assert report.exit_code == 0
    assert emulator.groups["g1"].app_defined_data == {"tier": "gold", "other": "keep"}
    assert emulator.groups["g1"].name == "x"


async def test_an_unknown_sdkappid_names_the_sdkappid_setting(db: str, emulator: Emulator) -> None:
    await load_desired(db, [desired_group(1)])
    with pytest.raises(CredentialsError) as err:
        await sync(settings_for(db, emulator, sdkappid=1400999999))
    assert "TENCENT_IM_SDKAPPID" in str(err.value)
    assert len(emulator.log) == 1
