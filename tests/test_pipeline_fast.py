"""The pipeline's paths on the in-memory store and an in-process vendor: each test runs in
milliseconds. tests/test_store_contract.py binds the in-memory store to the Postgres one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from syncer.errors import ConfigError
from syncer.models import GroupPlan, GroupResult
from syncer.pipeline import Reconciler, RunReport
from syncer.savedplan import SavedPlan, revert_plan
from syncer.settings import Settings
from syncer.thresholds import Threshold

from .inprocess import Calls, InProcessVendor, profile
from .memstore import MemStore

IDS = [f"g{i:03d}" for i in range(23)]


def _world(names: dict[str, str] | None = None) -> tuple[MemStore, InProcessVendor]:
    """23 groups, desired and live alike unless ``names`` says otherwise (desired names)."""
    store = MemStore()
    for group_id in IDS:
        store.put(group_id, profile((names or {}).get(group_id, f"name {group_id}")))
    vendor = InProcessVendor({i: {"name": f"name {i}"} for i in IDS})
    return store, vendor


async def _run(
    store: MemStore,
    vendor: InProcessVendor,
    *,
    dry_run: bool = False,
    on_plan: Callable[[GroupPlan, GroupResult], None] | None = None,
    planned: SavedPlan | None = None,
    **settings: Any,
) -> RunReport:
    values: dict[str, Any] = {"page_size": 7} | settings
    reconciler = Reconciler(Settings(**values), store, vendor, dry_run=dry_run, on_plan=on_plan, planned=planned)
    return await reconciler.run()


async def test_a_first_run_reads_every_group_and_writes_only_what_differs() -> None:
    store, vendor = _world({IDS[3]: "renamed", IDS[17]: "renamed too"})
    report = await _run(store, vendor)
    assert report.status == "succeeded" and report.groups_read == 23
    assert sorted(vendor.writes) == [IDS[3], IDS[17]]
    assert [len(ids) for ids in vendor.reads] == [5, 5, 5, 5, 3]  # batches span pages of 7
    assert [i for ids in vendor.reads for i in ids] == IDS
    assert store.states[IDS[3]].outcome == "updated" and store.states[IDS[0]].outcome == "in_sync"


async def test_runs_after_settle_whole_batches_by_their_answer_and_the_rest_by_digest() -> None:
    store, vendor = _world()
    await _run(store, vendor, page_size=50)
    vendor.decoded = 0
    report = await _run(store, vendor, page_size=50)
    # Four whole batches of 5 undecoded; the last three groups, read as one batch, by their digests.
    assert report.batches_unchanged == 4 and report.unchanged == 23 and vendor.decoded == 1
    assert vendor.writes == [] and len(vendor.reads) == 10


async def test_a_seen_batch_whose_answer_changed_is_looked_at_group_by_group() -> None:
    store, vendor = _world()
    await _run(store, vendor, page_size=50)
    await _run(store, vendor, page_size=50)
    vendor.live[IDS[6]]["name"] = "changed at the vendor"
    reads = len(vendor.reads)
    report = await _run(store, vendor, page_size=50)
    assert vendor.writes == [IDS[6]]
    # One read per batch: the changed batch's answer is decoded, not read again.
    assert len(vendor.reads) - reads == 5
    assert report.batches_unchanged == 3 and report.unchanged == 22
    assert store.states[IDS[6]].outcome == "updated"


async def test_a_changed_desired_row_breaks_its_batch_and_is_validated_again() -> None:
    store, vendor = _world()
    await _run(store, vendor, page_size=50)
    await _run(store, vendor, page_size=50)
    store.put(IDS[1], profile(""))  # now invalid
    report = await _run(store, vendor, page_size=50)
    assert report.outcomes["rejected"] == 1 and store.states[IDS[1]].outcome == "rejected"
    assert all(IDS[1] not in ids for ids in vendor.reads[-5:])  # no call for it
    assert vendor.writes == []


async def test_the_groups_the_last_run_left_failed_go_first() -> None:
    store, vendor = _world()
    vendor.failing = {IDS[20], IDS[12]}
    first = await _run(store, vendor)
    assert first.outcomes["failed"] == 2 and first.exit_code == 2
    vendor.failing = set()
    vendor.reads.clear()
    second = await _run(store, vendor)
    assert vendor.reads[0] == [IDS[12], IDS[20]]  # failed-first, then the rest without them
    assert sorted(i for ids in vendor.reads[1:] for i in ids) == [i for i in IDS if i not in (IDS[12], IDS[20])]
    assert second.status == "succeeded" and store.states[IDS[20]].outcome == "in_sync"


async def test_a_first_run_reads_each_row_in_full_with_its_page() -> None:
    store, vendor = _world({IDS[4]: "renamed"})
    read_in_full: list[str] = []
    original = store.read_desired

    async def read_desired(group_ids: Any) -> Any:
        read_in_full.extend(group_ids)
        return await original(group_ids)

    store.read_desired = read_desired  # type: ignore[method-assign]
    report = await _run(store, vendor)
    assert report.groups_read == 23 and read_in_full == [] and vendor.writes == [IDS[4]]
    # Later, only a group whose answer changed is read in full, on its own.
    vendor.live[IDS[9]]["name"] = "changed at the vendor"
    await _run(store, vendor)
    assert read_in_full == [IDS[9]] and vendor.writes == [IDS[4], IDS[9]]


async def test_a_row_deleted_before_it_is_read_in_full_is_no_longer_the_runs() -> None:
    store, vendor = _world()
    await _run(store, vendor)
    vendor.live[IDS[4]]["name"] = "changed at the vendor"  # its answer no longer the one seen
    original = store.read_desired

    async def read_desired(group_ids: Any) -> Any:
        if IDS[4] in group_ids and IDS[4] in store.desired:
            store.delete(IDS[4])  # between the page and the full read
        return await original(group_ids)

    store.read_desired = read_desired  # type: ignore[method-assign]
    report = await _run(store, vendor)
    assert report.status == "succeeded" and vendor.writes == [] and IDS[4] not in store.desired
    assert store.states[IDS[4]].last_run_id == 1 and store.states[IDS[5]].last_run_id == report.run_id == 2


async def test_a_plan_writes_nothing_records_nothing_and_shows_each_change() -> None:
    store, vendor = _world({IDS[9]: "renamed"})
    plans: list[GroupPlan] = []
    report = await _run(store, vendor, dry_run=True, on_plan=lambda plan, _: plans.append(plan))
    assert vendor.writes == [] and store.states == {} and store.runs == []
    assert report.would_change == 1 and [p.group_id for p in plans if not p.in_sync] == [IDS[9]]
    assert len(plans) == 23


async def test_a_stop_while_writing_lets_calls_in_flight_finish_and_leaves_the_rest_to_the_next_run() -> None:
    store, vendor = _world({i: f"renamed {i}" for i in IDS})
    stop = asyncio.Event()
    landed: list[str] = []

    async def on_write(group_id: str) -> None:
        landed.append(group_id)
        if len(landed) == 3:
            stop.set()
            await asyncio.sleep(0)  # let the run see it while this write is still in flight

    vendor.on_write = on_write
    settings = Settings(page_size=7, batches_in_flight=1)
    report = await Reconciler(settings, store, vendor, stop=stop).run()
    assert report.status == "interrupted" and report.exit_code == 0
    written = vendor.writes
    assert 3 <= len(written) < 23
    # Every write that landed is recorded as such; nothing else is recorded.
    assert {i for i, s in store.states.items() if s.outcome == "updated"} == set(written)
    assert store.runs[-1].status == "interrupted"
    vendor.on_write = None
    vendor.client = Calls()  # a run's client is its own: the next run's is not stopping
    after = await _run(store, vendor)
    assert after.status == "succeeded" and sorted(vendor.writes) == IDS


async def test_a_change_budget_admits_exactly_its_groups_however_many_writes_are_in_flight() -> None:
    store, vendor = _world({i: f"renamed {i}" for i in IDS})
    report = await _run(store, vendor, max_changes=Threshold(count=5), page_size=50)
    assert len(vendor.writes) == 5 and report.outcomes["held_back"] == 18
    assert (report.status, report.exit_code) == ("over_budget", 5)
    held = [i for i in IDS if store.states[i].outcome == "held_back"]
    assert sorted(held + vendor.writes) == IDS
    again = await _run(store, vendor, max_changes=Threshold(count=0))
    assert vendor.writes[5:] == [] and again.outcomes["held_back"] == 18  # 0: nothing may be written
    finished = await _run(store, vendor)
    assert finished.exit_code == 0 and sorted(vendor.writes[5:]) == sorted(held)


async def test_a_plan_is_never_held_back_by_a_budget() -> None:
    store, vendor = _world({i: f"renamed {i}" for i in IDS})
    report = await _run(store, vendor, dry_run=True, max_changes=Threshold(count=1))
    assert report.would_change == 23 and report.outcomes["held_back"] == 0 and vendor.writes == []


async def test_a_targeted_run_reads_writes_and_records_only_its_groups() -> None:
    store, vendor = _world({i: f"renamed {i}" for i in IDS})
    canary = (IDS[3], IDS[17], IDS[9])
    report = await _run(store, vendor, targets=canary)
    assert sorted(vendor.writes) == sorted(canary) and sorted(i for ids in vendor.reads for i in ids) == sorted(canary)
    assert sorted(store.states) == sorted(canary) and report.groups_read == 3
    with pytest.raises(ConfigError, match=r"--group: 1 not in the desired relation .*'g999'"):
        await _run(store, vendor, targets=(IDS[0], "g999"))
    assert sorted(vendor.writes) == sorted(canary)  # refused before any call


async def test_a_revert_writes_a_run_back_and_a_group_whose_row_is_gone_is_stale() -> None:
    store, vendor = _world({i: f"renamed {i}" for i in IDS[:4]})
    run = await _run(store, vendor)
    assert run.run_id is not None and sorted(vendor.writes) == IDS[:4]
    store.delete(IDS[3])
    written = await store.run_changes(run.run_id)
    saved = revert_plan(written, vendor.plan_of_changes, vendor="tencent", app="tencent.None", run_id=run.run_id)
    reverted = await _run(store, vendor, planned=saved, targets=tuple(sorted(saved.groups)))
    assert (reverted.outcomes["reverted"], reverted.outcomes["stale"]) == (3, 1)
    assert [vendor.live[i]["name"] for i in IDS[:3]] == [f"name {i}" for i in IDS[:3]]
    assert "its desired row is gone since run 1" in str(store.states[IDS[3]].error_message)
