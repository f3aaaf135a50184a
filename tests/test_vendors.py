"""The core behaviours, for every vendor from one suite: convergence, idempotence, bad input,
throttling and the rate limit, each against the emulator over HTTP and a real Postgres."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from syncer.db.store import PgStore
from syncer.emulator.server import Emulator
from syncer.errors import ConfigError
from syncer.models import FieldChange, GroupPlan, GroupResult
from syncer.nexconn.models import DesiredChannel
from syncer.nexconn.seeding import drifted_channels, insert_desired_channels
from syncer.pipeline import RunReport
from syncer.ports import PageQuery, PageRow, SeenBatch
from syncer.savedplan import load_plan, plan_writer, revert_plan
from syncer.settings import Settings
from syncer.tencent.models import BASE_FIELDS, DesiredGroup
from syncer.tencent.seeding import drifted_dataset, insert_desired
from syncer.thresholds import Threshold
from syncer.vendors import make_vendor

from .helpers import emulator_process, fast, fetch, mismatches, settings_for, sync


@dataclass
class Data:
    desired: Sequence[Any]
    live: Sequence[Any]
    drifted: set[str]
    invalid: set[str]


@dataclass(frozen=True)
class Vendor:
    """How a test drives one vendor: its data, its emulator side, its table and its calls."""

    name: str
    read: str  # the batch read's command
    writes: frozenset[str]

    def data(self, n: int, *, seed: int, invalid: int = 0, drift: float = 0.5) -> Data:
        if self.name == "tencent":
            d = drifted_dataset(n, seed=seed, invalid=invalid, base_drift=drift)
            return Data(d.desired, d.live, d.drifted, d.invalid)
        c = drifted_channels(n, seed=seed, invalid=invalid, drift=drift)
        return Data(c.desired, c.live, c.drifted, c.invalid)

    async def seeded(self, db: str, emulator: Emulator, n: int, **generator: Any) -> Data:
        """Generated data (``generator``: :meth:`data`'s options) in the emulator and the database."""
        data = self.data(n, **generator)
        self.seed(emulator, data)
        await self.load(db, data.desired)
        return data

    def seed(self, emulator: Emulator, data: Data) -> None:
        if self.name == "tencent":
            emulator.seed(data.live)
        else:
            emulator.nexconn.seed(list(data.live))

    async def load(self, db: str, rows: Sequence[DesiredGroup | DesiredChannel]) -> None:
        conn = await asyncpg.connect(db)
        try:
            if self.name == "tencent":
                await insert_desired(conn, rows)  # type: ignore[arg-type]
            else:
                await insert_desired_channels(conn, rows)  # type: ignore[arg-type]
        finally:
            await conn.close()

    @property
    def table(self) -> tuple[str, str]:
        """The desired table and its key column."""
        if self.name == "tencent":
            return "desired_group_profiles", "group_id"
        return "desired_group_channels", "channel_id"

    def snapshot(self, emulator: Emulator) -> dict[str, dict[str, Any]]:
        """Every group as the vendor holds it, by the change journal's field names."""
        if self.name == "tencent":
            return {
                g.group_id: {k: v for k, v in g.base_fields().items() if k in BASE_FIELDS.values()}
                | {f"AppDefinedData.{k}": v for k, v in g.app_defined_data.items()}
                | {f"GroupAttr.{k}": v for k, v in g.attrs.items()}
                for g in emulator.groups.values()
            }
        return {
            c.channel_id: dict(c.profile) | dict(c.permissions) | {f"groupExtProfile.{k}": v for k, v in c.ext.items()}
            for c in emulator.nexconn.channels.values()
        }

    def live_name(self, emulator: Emulator, group_id: str) -> str:
        """A group's name in the emulator's own record."""
        if self.name == "tencent":
            return emulator.groups[group_id].name
        return emulator.nexconn.channels[group_id].profile["name"]

    def rename_live(self, emulator: Emulator, group_id: str, name: str) -> None:
        """Rename a group in the emulator's own record, as a change outside syncer would."""
        if self.name == "tencent":
            emulator.groups[group_id].name = name
        else:
            emulator.nexconn.channels[group_id].profile["name"] = name

    def settings(self, db: str, emulator: Emulator, **overrides: Any) -> Settings:
        return settings_for(db, emulator, vendor=self.name, **overrides)

    def mismatches(self, data: Data, emulator: Emulator) -> list[str]:
        valid = [r for r in data.desired if r.group_id not in data.invalid]
        if self.name == "tencent":
            return mismatches(valid, emulator)
        problems = []
        for row in valid:
            live = emulator.nexconn.channels[row.group_id].answer()
            want = row  # a DesiredChannel
            checks = {
                "name": (live["name"], want.name),
                "portraitUrl": (live["groupProfile"]["portraitUrl"], want.portrait_url),
                "joinPerm": (live["permissions"]["joinPerm"], want.join_perm),
                "ext": ({k: live["groupExtProfile"].get(k) for k in want.ext_profile}, want.ext_profile),
            }
            problems += [f"{row.group_id}.{k}: {have!r} != {w!r}" for k, (have, w) in checks.items() if have != w]
        return problems


VENDORS = [
    Vendor("tencent", "get_group_info", frozenset({"modify_group_base_info", "set_group_attr", "delete_group_attr"})),
    Vendor("nexconn", "profile_list", frozenset({"profile_update"})),
]


@pytest.fixture(params=VENDORS, ids=lambda v: v.name)
def vendor(request: pytest.FixtureRequest) -> Vendor:
    return request.param  # type: ignore[no-any-return]


async def test_a_run_converges_and_the_next_one_only_reads(db: str, emulator: Emulator, vendor: Vendor) -> None:
    data = await vendor.seeded(db, emulator, 160, seed=41)
    settings = vendor.settings(db, emulator, **fast(emulator))
    first = await sync(settings)
    assert first.exit_code == 0, first
    assert first.outcomes["updated"] == len(data.drifted) > 0
    assert vendor.mismatches(data, emulator) == []
    assert first.calls[vendor.read] == math.ceil(160 / 50)

    before = len(emulator.log)
    second = await sync(settings)
    assert second.exit_code == 0 and second.outcomes["in_sync"] == 160
    assert second.calls == {vendor.read: math.ceil(160 / 50)}  # idempotent: reads only, no write
    assert {r.command for r in emulator.log[before:]} == {vendor.read}


async def test_a_group_seen_in_line_is_looked_at_again_when_either_side_changes(
    db: str, emulator: Emulator, vendor: Vendor
) -> None:
    """Groups found as they were last seen in line are done by digest alone; a change on the
    vendor's side, a change of the desired row, or a row made invalid still gets its due."""
    data = await vendor.seeded(db, emulator, 120, seed=44)
    settings = vendor.settings(db, emulator, **fast(emulator))
    first = await sync(settings)
    assert first.exit_code == 0 and first.unchanged == 0  # nothing seen in line before
    second = await sync(settings)
    # Only the groups the first run found in line (not those it wrote) are settled by digest.
    assert second.outcomes["in_sync"] == 120 and second.unchanged == first.outcomes["in_sync"] > 0
    # Every group of every batch was seen in line in the answer it gets again: each whole batch
    # the page query hands over as one is settled by the whole answer's digest, undecoded; the
    # last, partial one (row by row, below) group by group, each by its own digest.
    settled = await sync(settings)
    assert settled.unchanged == 120 and settled.batches_unchanged == 120 // 50
    assert settled.calls[vendor.read] == math.ceil(120 / 50)
    # The page query hands each whole batch over as one item (IDs in the order they were read
    # in); the last, partial batch comes row by row.
    ids = sorted(r.group_id for r in data.desired)
    async with PgStore.open(db, vendor.name) as store:
        page = await store.read_desired_page(None, 500, PageQuery(whole_batch=50))
    assert [item.group_ids for item in page if isinstance(item, SeenBatch)] == [ids[:50], ids[50:100]]
    assert [item.group_id for item in page if isinstance(item, PageRow) and item.wanted] == ids[100:]
    table, key = vendor.table
    conn = await asyncpg.connect(db)
    try:
        digests = "SELECT group_id FROM group_sync_state WHERE vendor = $1 AND live_digest IS NOT NULL"
        assert len(await conn.fetch(digests, vendor.name)) == 120  # every group: seen in line

        outside, renamed, broken = ids[7], ids[50], ids[99]
        vendor.rename_live(emulator, outside, "changed outside syncer")
        await conn.execute(f"UPDATE {table} SET name = 'renamed in the database' WHERE {key} = $1", renamed)
        await conn.execute(f"UPDATE {table} SET name = $2 WHERE {key} = $1", broken, "x" * 200)
        before = len(emulator.log)
        third = await sync(settings)
        seen_in_line = {r["group_id"] for r in await conn.fetch(digests, vendor.name)}
        answers = {
            r["group_id"]: r["answer_digest"]
            for r in await conn.fetch(
                "SELECT group_id, answer_digest FROM group_sync_state WHERE vendor = $1", vendor.name
            )
        }
    finally:
        await conn.close()

    assert third.exit_code == 0, third  # one rejected row of 120: within the default threshold
    assert (third.outcomes["updated"], third.outcomes["rejected"], third.outcomes["in_sync"]) == (2, 1, 117)
    assert third.unchanged == 117
    # The first batch came whole and was answered otherwise: its groups were looked at one by
    # one in that same answer, not read again.
    assert third.calls[vendor.read] == math.ceil(119 / 50)
    # The answers changed (a group changed outside syncer; a rejected row moved the batches along):
    # the groups as they were are settled one by one, by their own digests.
    assert third.batches_unchanged == 0
    wanted = {outside: next(r for r in data.desired if r.group_id == outside).name, renamed: "renamed in the database"}
    assert {g: vendor.live_name(emulator, g) for g in wanted} == wanted
    written = {g for r in emulator.log[before:] if r.command != vendor.read for g in r.group_ids}
    assert written == {outside, renamed}
    assert broken not in {g for r in emulator.log[before:] for g in r.group_ids}
    # Written or rejected: not seen in line this run, so the next looks at them in full again.
    assert seen_in_line == set(ids) - {outside, renamed, broken}
    # The groups found as they were carry this run's answer digests, for the next run's check.
    assert answers[outside] is None and answers[ids[0]] is not None
    assert len({answers[g] for g in ids if g not in (outside, renamed, broken)}) == math.ceil(119 / 50)


async def test_bad_rows_are_rejected_naming_group_and_field_and_cost_no_call(
    db: str, emulator: Emulator, vendor: Vendor
) -> None:
    data = await vendor.seeded(db, emulator, 60, seed=42, invalid=5, drift=1.0)
    report = await sync(vendor.settings(db, emulator, **fast(emulator)))
    assert report.exit_code == 2 and report.outcomes["rejected"] == 5
    assert report.outcomes["updated"] == 55  # every other group proceeded
    assert vendor.mismatches(data, emulator) == []
    named = {g for record in emulator.log for g in record.group_ids}
    assert named.isdisjoint(data.invalid)  # not even read
    conn = await asyncpg.connect(db)
    try:
        rows = await conn.fetch(
            "SELECT group_id, error_message FROM group_sync_state WHERE outcome = 'rejected' AND vendor = $1",
            vendor.name,
        )
    finally:
        await conn.close()
    assert {r["group_id"] for r in rows} == data.invalid
    for r in rows:
        # "group 'ID': field: what is wrong"
        assert r["error_message"].startswith(f"group {r['group_id']!r}: "), r
        match = re.match(r"\w+", r["error_message"].removeprefix(f"group {r['group_id']!r}: "))
        field = match.group(0) if match else None
        assert field in {
            "name",
            "join_perm",
            "ext_profile",
            "portrait_url",  # Nexconn's columns
            "apply_join_option",
            "group_attrs",
            "face_url",
            "app_defined_data",
            "max_member_num",  # Tencent's
        }, r


async def test_throttling_answers_are_retried_until_every_group_is_in_line(
    db: str, emulator: Emulator, vendor: Vendor
) -> None:
    data = await vendor.seeded(db, emulator, 120, seed=43, drift=1.0)
    emulator.config.fault_throttle = 0.3
    report = await sync(vendor.settings(db, emulator, **fast(emulator)))
    assert report.exit_code == 0, report
    assert report.throttled > 10 and report.retries >= report.throttled
    assert vendor.mismatches(data, emulator) == []
    throttle_code = {"tencent": 60007, "nexconn": 1008}[vendor.name]
    assert sum(1 for r in emulator.log if r.code == throttle_code) == report.throttled


@pytest.mark.parametrize("name", ["tencent", "nexconn"])
async def test_the_emulator_in_its_own_process_never_sees_more_than_the_limit(db: str, name: str) -> None:
    vendor = next(v for v in VENDORS if v.name == name)
    limit, n = 40, 160
    data = vendor.data(n, seed=44, drift=1.0)
    await vendor.load(db, data.desired)
    seeding = ["--seed-groups", str(n), "--attr-drift", "0.25"] if name == "tencent" else ["--seed-channels", str(n)]
    async with emulator_process(*seeding, "--seed", "44", "--drift", "1.0", "--rate-limit", str(limit)) as remote:
        report = await sync(remote.settings(db, vendor=name, rate_limit=limit, limiter_margin_s=0.1))
        stats = await remote.get("stats")
        log = await remote.get("log")
    assert report.exit_code == 0, report
    assert [r for r in log if r["code"] != 0] == []
    assert all(peak <= limit for peak in stats["max_calls_per_window"].values()), stats
    busiest = max(report.peak_sends_per_second.values())
    assert limit * 0.9 <= busiest <= limit  # the limit was all but reached, never crossed


async def test_failed_and_rejected_groups_fail_a_run_only_over_their_thresholds(
    db: str, emulator: Emulator, vendor: Vendor
) -> None:
    data = await vendor.seeded(db, emulator, 200, seed=46, invalid=3)
    valid = [r.group_id for r in data.desired if r.group_id not in data.invalid]
    emulator.config.group_faults = dict.fromkeys(valid[10:12], 10002 if vendor.name == "tencent" else 1050)
    base = {**fast(emulator), "max_attempts": 1}

    async def run(**thresholds: Threshold) -> RunReport:
        return await sync(vendor.settings(db, emulator, **base, **thresholds))

    # 3 rejected of 200: over the default 1 %. Tencent fails the 2 faulted groups alone, within
    # 1 %; Nexconn fails their whole batch read, over it.
    over = await run()
    failed = over.outcomes["failed"]
    assert over.outcomes["rejected"] == 3 and failed == (2 if vendor.name == "tencent" else 50)
    assert (over.status, over.exit_code) == ("partial", 2)
    assert over.error is not None and over.error.startswith("3 rejected or not found, over --max-rejected 1%")
    assert ("failed, over" in over.error) == (vendor.name == "nexconn")
    within = await run(max_rejected=Threshold(count=3), max_failed=Threshold(count=failed))
    assert (within.status, within.exit_code, within.error) == ("succeeded", 0, None)
    failing = await run(max_rejected=Threshold(count=3), max_failed=Threshold(count=failed - 1))
    assert (failing.status, failing.exit_code) == ("partial", 2)
    assert failing.error == f"{failed} failed, over --max-failed {failed - 1}"
    assert [r["status"] for r in await fetch(db, "SELECT status FROM sync_runs ORDER BY run_id")] == [
        "partial",
        "succeeded",
        "partial",
    ]


async def test_a_budget_of_100_changes_exactly_100_groups_and_holds_back_the_rest(
    db: str, emulator: Emulator, vendor: Vendor
) -> None:
    data = await vendor.seeded(db, emulator, 300, seed=47, drift=1.0)
    settings = vendor.settings(db, emulator, **fast(emulator), max_changes=Threshold(count=100))
    report = await sync(settings)
    written = {g for r in emulator.log if r.command in vendor.writes for g in r.group_ids}
    assert len(written) == 100 and report.outcomes["updated"] == 100
    assert report.outcomes["held_back"] == len(data.drifted) - 100 > 0
    assert (report.status, report.exit_code) == ("over_budget", 5)
    assert report.error is not None and "change budget of 100 groups is spent" in report.error
    held = await fetch(db, "SELECT group_id FROM group_sync_state WHERE outcome = 'held_back'")
    assert {r["group_id"] for r in held} == data.drifted - written
    (run,) = await fetch(db, "SELECT status, held_back, updated FROM sync_runs")
    assert (run["status"], run["held_back"], run["updated"]) == ("over_budget", len(held), 100)

    # A share of the desired rows, and then no budget: the held-back groups are written.
    emulator.log.clear()
    share = await sync(replace(settings, max_changes=Threshold(percent=10.0)))  # 30 of 300
    assert share.outcomes["updated"] == 30 and share.exit_code == 5
    rest = await sync(replace(settings, max_changes=None))
    assert rest.exit_code == 0 and rest.outcomes["updated"] == len(data.drifted) - 130
    assert vendor.mismatches(data, emulator) == []


async def test_the_journal_holds_what_the_vendor_held_before_and_after_each_change(
    db: str, emulator: Emulator, vendor: Vendor
) -> None:
    await vendor.seeded(db, emulator, 120, seed=48, drift=1.0)
    before = vendor.snapshot(emulator)
    report = await sync(vendor.settings(db, emulator, **fast(emulator), check_attrs=True))
    after = vendor.snapshot(emulator)
    assert report.exit_code == 0 and report.outcomes["updated"] > 0
    journal = await fetch(db, "SELECT run_id, group_id, field, before::text, after::text, outcome FROM group_changes")
    # Every value the run changed at the vendor, and nothing else, with what it was and became.
    changed = {(g, f) for g in after for f in before[g].keys() | after[g].keys() if before[g].get(f) != after[g].get(f)}
    assert {(r["group_id"], r["field"]) for r in journal} == changed
    for r in journal:
        was, now = (json.loads(r[k]) if r[k] is not None else None for k in ("before", "after"))
        assert (was, now) == (before[r["group_id"]].get(r["field"]), after[r["group_id"]].get(r["field"])), r
    assert {(r["run_id"], r["outcome"]) for r in journal} == {(report.run_id, "applied")}
    (status_run,) = await fetch(db, "SELECT count(*) AS n FROM group_changes WHERE run_id = $1", report.run_id)
    assert status_run["n"] == len(journal)


async def test_a_canary_by_id_then_a_filter_then_the_rest(db: str, emulator: Emulator, vendor: Vendor) -> None:
    data = await vendor.seeded(db, emulator, 150, seed=49, drift=1.0)
    settings = vendor.settings(db, emulator, **fast(emulator))
    drifted = sorted(data.drifted)
    canary = drifted[:10]

    def written() -> set[str]:
        return {g for r in emulator.log if r.command in vendor.writes for g in r.group_ids}

    first = await sync(replace(settings, targets=tuple(canary)))
    assert written() == set(canary) and first.groups_read == 10 and first.exit_code == 0
    assert {r.group_ids[0] for r in emulator.log if r.command == vendor.read} <= set(canary)
    # Then the groups a SQL filter over the desired relation selects (names ending in 7).
    _table, key = vendor.table
    emulator.log.clear()
    second = await sync(replace(settings, target_filter=f"{key} LIKE '%7'"))
    sevens = {g for g in drifted if g.endswith("7")} - set(canary)
    assert written() == sevens and second.groups_read == len(
        {g.group_id for g in data.desired if g.group_id.endswith("7")}
    )
    # A filter that would change anything is refused, as is one that is not SQL, before any call.
    emulator.log.clear()
    for refused in ("nextval('sync_runs_run_id_seq') > 0", "name LIKE"):
        with pytest.raises(ConfigError, match="--where"):
            await sync(replace(settings, target_filter=refused))
    assert emulator.log == []
    rest = await sync(settings)
    assert rest.exit_code == 0 and vendor.mismatches(data, emulator) == []
    assert rest.outcomes["updated"] == len(drifted) - 10 - len(sevens)


async def test_a_saved_plan_is_applied_exactly_and_a_group_changed_since_is_stale(
    db: str, emulator: Emulator, vendor: Vendor, tmp_path: Path
) -> None:
    data = await vendor.seeded(db, emulator, 180, seed=50, drift=0.5)
    settings = vendor.settings(db, emulator, **fast(emulator))
    path = str(tmp_path / "migration.plan")
    with plan_writer(path, vendor=vendor.name, app=settings.app_scope()) as writer:

        def save(plan: GroupPlan, result: GroupResult) -> None:
            if not plan.in_sync and result.desired_digest is not None:
                writer.group(plan, result.desired_digest)

        await sync(settings, dry_run=True, on_plan=save)
    saved = load_plan(path, vendor=vendor.name, app=settings.app_scope(), max_age_s=3600)
    planned = sorted(saved.groups)
    assert set(planned) == data.drifted and len(planned) > 50
    # After the review, three planned groups' names change at the vendor, the plan renaming them.
    renamed = [g for g in planned if any(c.field in ("Name", "name") for c in saved.groups[g].plan.changes)]
    changed = renamed[:3]
    for group_id in changed:
        vendor.rename_live(emulator, group_id, "changed after the plan")
    other_groups = sorted(set(g.group_id for g in data.desired) - set(planned))
    emulator.log.clear()

    report = await sync(replace(settings, targets=tuple(planned)), planned=saved)
    assert report.outcomes["stale"] == 3 and report.outcomes["updated"] == len(planned) - 3
    assert (report.status, report.exit_code) == ("partial", 2) and "3 groups changed since the plan" in str(
        report.error
    )
    # Exactly the saved writes, to the other planned groups; reads of the planned groups only.
    sent = sorted((r.command, g) for r in emulator.log if r.command in vendor.writes for g in r.group_ids)
    expected = sorted((call, g) for g in set(planned) - set(changed) for call in saved.groups[g].plan.calls)
    assert sent == expected
    read = [g for r in emulator.log if r.command == vendor.read for g in r.group_ids]
    assert sorted(read) == planned and len([r for r in emulator.log if r.command == vendor.read]) == math.ceil(
        len(planned) / 50
    )
    assert not set(read) & set(other_groups)
    stale = await fetch(db, "SELECT group_id FROM group_sync_state WHERE outcome = 'stale'")
    assert sorted(r["group_id"] for r in stale) == changed


async def test_a_revert_restores_what_a_run_replaced_leaves_conflicts_and_holds_the_groups(
    db: str, emulator: Emulator, vendor: Vendor
) -> None:
    data = await vendor.seeded(db, emulator, 120, seed=51, drift=1.0)
    settings = vendor.settings(db, emulator, **fast(emulator), check_attrs=True)
    before = vendor.snapshot(emulator)
    run = await sync(settings)
    assert run.exit_code == 0 and run.run_id is not None
    changed = sorted(g for g in before if vendor.snapshot(emulator)[g] != before[g])
    assert len(changed) == len(data.drifted)
    # Two groups change again at the vendor after the run: their revert is a conflict.
    written = await _run_changes(db, vendor, settings, run.run_id)
    conflicts = [g for g in changed if any(c.field in ("Name", "name") for c in written[g])][:2]
    for group_id in conflicts:
        vendor.rename_live(emulator, group_id, "changed after the run")

    saved = revert_plan(
        written, make_vendor(settings).plan_of_changes, vendor=vendor.name, app=settings.app_scope(), run_id=run.run_id
    )
    reverted = await sync(replace(settings, targets=tuple(sorted(saved.groups))), planned=saved)
    assert (reverted.mode, reverted.outcomes["reverted"], reverted.outcomes["stale"]) == ("revert", len(changed) - 2, 2)
    assert reverted.exit_code == 2 and f"changed since run {run.run_id}" in str(reverted.error)

    # Every other group exactly as before. (Nexconn documents no way to delete an ext key: one
    # the run added is written back as "", which its answers and syncer's diff take for absent.)
    def present(snapshot: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {g: {f: v for f, v in fields.items() if v != ""} for g, fields in snapshot.items()}

    now, then = present(vendor.snapshot(emulator)), present(before)
    assert {g for g in changed if now[g] != then[g]} == set(conflicts)
    states = {
        r["group_id"]: r for r in await fetch(db, "SELECT group_id, outcome, error_message FROM group_sync_state")
    }
    assert all(states[g]["outcome"] == "stale" and "a conflict" in states[g]["error_message"] for g in conflicts)

    # The desired table still says what the run wrote: the next scheduled run holds the reverted
    # groups (no write for them) until their desired row changes.
    emulator.log.clear()
    scheduled = await sync(settings)
    written_again = {g for r in emulator.log if r.command in vendor.writes for g in r.group_ids}
    assert written_again == set(conflicts) and scheduled.exit_code == 0
    held = next(g for g in changed if g not in conflicts)
    table, key = vendor.table
    await fetch(db, f"UPDATE {table} SET name = 'renamed once more' WHERE {key} = $1", held)
    emulator.log.clear()
    await sync(settings)
    assert held in {g for r in emulator.log if r.command in vendor.writes for g in r.group_ids}


async def _run_changes(db: str, vendor: Vendor, settings: Settings, run_id: int) -> dict[str, list[FieldChange]]:
    async with PgStore.open(db, vendor.name) as store:
        return await store.run_changes(run_id)
