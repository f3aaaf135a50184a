"""One contract, two stores: every test here runs against the Postgres store and the in-memory
one (tests/memstore.py), so that pipeline tests on the in-memory store say what runs on Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import asyncpg
import pytest

from syncer.db.store import PgStore
from syncer.models import FieldChange, GroupResult, Outcome
from syncer.ports import PageQuery, PageRow, RunTotals, SeenBatch, Store, UnchangedBatch
from syncer.settings import Settings
from syncer.sharding import Shard, shard_of
from syncer.tencent.models import DesiredGroup
from syncer.tencent.seeding import desired_group, insert_desired
from syncer.vendors import desired_setups

from .memstore import MemStore


@dataclass
class Harness:
    store: Store
    put: Callable[[Sequence[DesiredGroup]], Awaitable[None]]  # insert, or replace whole rows
    delete: Callable[[str], Awaitable[None]]


@pytest.fixture(params=["postgres", "memory"])
async def harness(request: pytest.FixtureRequest, new_database: Callable[[], Awaitable[str]]) -> AsyncIterator[Harness]:
    if request.param == "memory":
        mem = MemStore()

        async def put_mem(rows: Sequence[DesiredGroup]) -> None:
            mem.put_groups(rows)

        async def delete_mem(group_id: str) -> None:
            mem.delete(group_id)

        yield Harness(mem, put_mem, delete_mem)
        return
    url = await new_database()
    async with PgStore.open(url) as setup:
        await setup.migrate(desired_setups(Settings()))

    async def put_pg(rows: Sequence[DesiredGroup]) -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "DELETE FROM desired_group_profiles WHERE group_id = ANY($1::text[])", [r.group_id for r in rows]
            )
            await insert_desired(conn, rows)
        finally:
            await conn.close()

    async def delete_pg(group_id: str) -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("DELETE FROM desired_group_profiles WHERE group_id = $1", group_id)
        finally:
            await conn.close()

    async with PgStore.open(url, "tencent") as store:
        yield Harness(store, put_pg, delete_pg)


def _in_line(group_id: str, answer: str, desired_digest: str) -> GroupResult:
    return GroupResult(
        group_id, Outcome.IN_SYNC, desired_digest=desired_digest, live_digest=f"live-{group_id}", answer_digest=answer
    )


async def _digests(store: Store, ids: Sequence[str]) -> dict[str, str]:
    return {i: r.desired_digest for i, r in (await store.read_desired(ids)).items()}


async def _put_groups(harness: Harness, n: int) -> tuple[list[DesiredGroup], list[str], dict[str, str]]:
    """``n`` generated groups put in the store: the rows, their IDs, and their desired digests."""
    groups = [desired_group(i) for i in range(n)]
    await harness.put(groups)
    ids = [g.group_id for g in groups]
    return groups, ids, await _digests(harness.store, ids)


async def _all_pages(store: Store, limit: int) -> list[PageRow | SeenBatch]:
    found: list[PageRow | SeenBatch] = []
    after = None
    while page := await store.read_desired_page(after, limit):
        found += page
        after = page[-1].group_id
    return found


def _wanted(items: Sequence[PageRow | SeenBatch]) -> list[str]:
    return [i.group_id for i in items if isinstance(i, PageRow) and i.wanted]


async def test_pages_come_in_id_order_and_carry_the_cursor_on(harness: Harness) -> None:
    groups = [desired_group(i) for i in range(25)] + [DesiredGroup("")]
    await harness.put(groups)
    items = await _all_pages(harness.store, 7)
    # The empty ID is read (and later rejected), not skipped; every row once, in order.
    assert _wanted(items) == sorted(g.group_id for g in groups)
    first = await harness.store.read_desired_page(None, 7)
    assert len(first) == 7 and all(isinstance(i, PageRow) and i.live_digest is None for i in first)
    assert await harness.store.read_desired_page(max(g.group_id for g in groups), 7) == []


async def test_a_run_does_not_want_what_it_has_recorded_and_the_last_row_still_carries_the_cursor(
    harness: Harness,
) -> None:
    await harness.put([desired_group(i) for i in range(10)])
    store = harness.store
    run_id = await store.start_run("run")
    ids = [desired_group(i).group_id for i in range(10)]
    await store.record_groups(run_id, [GroupResult(i, Outcome.UPDATED) for i in ids[5:]])
    page = await store.read_desired_page(None, 10, PageQuery(run_id=run_id))
    assert _wanted(page) == ids[:5]
    last = page[-1]
    assert isinstance(last, PageRow) and last.group_id == ids[-1] and not last.wanted


async def test_failed_first_reads_only_the_groups_left_failed_that_still_have_a_row(harness: Harness) -> None:
    ids = [desired_group(i).group_id for i in range(8)]
    await harness.put([desired_group(i) for i in range(8)])
    store = harness.store
    run_id = await store.start_run("run")
    outcomes = [Outcome.FAILED, Outcome.IN_SYNC, Outcome.FAILED, Outcome.REJECTED, Outcome.FAILED]
    await store.record_groups(run_id, [GroupResult(i, o) for i, o in zip(ids, outcomes, strict=False)])
    await harness.delete(ids[4])
    page = await store.read_desired_page(None, 1, PageQuery(selection="failed"))
    assert _wanted(page) == [ids[0]]
    assert _wanted(await store.read_desired_page(ids[0], 10, PageQuery(selection="failed"))) == [ids[2]]


async def test_changed_selects_rows_updated_since_never_synced_or_not_in_line(harness: Harness) -> None:
    ids = [desired_group(i).group_id for i in range(6)]
    await harness.put([desired_group(i) for i in range(6)])
    store = harness.store
    run_id = await store.start_run("run")
    await store.record_groups(
        run_id,
        [
            GroupResult(ids[0], Outcome.IN_SYNC),
            GroupResult(ids[1], Outcome.UPDATED),
            GroupResult(ids[2], Outcome.FAILED),
            GroupResult(ids[3], Outcome.IN_SYNC),
        ],
    )
    await store.finish_run(run_id, RunTotals("partial", 4, 3, 0, 0, 1, 0, 0, {}))
    since, _ = await store.last_completed_run()  # as an incremental run finds it: the store's own clock
    await harness.put([replace(desired_group(3), name="renamed")])
    page = await store.read_desired_page(None, 10, PageQuery(selection="changed", since=since))
    # 2: left failed; 3: changed since; 4, 5: never synced.
    assert _wanted(page) == [ids[2], ids[3], ids[4], ids[5]]


async def test_each_shard_wants_the_groups_the_shared_hash_gives_it_and_counts_them(harness: Harness) -> None:
    groups = [desired_group(i) for i in range(60)]
    await harness.put(groups)
    for index in range(3):
        shard = Shard(index, 3)
        mine = sorted(g.group_id for g in groups if shard_of(g.group_id, 3) == index)
        assert _wanted(await harness.store.read_desired_page(None, 100, PageQuery(shard=shard))) == mine
        assert await harness.store.count_desired(shard) == len(mine)
    assert await harness.store.count_desired() == 60


async def test_a_whole_batch_seen_in_line_in_one_answer_comes_as_one_item_until_a_row_changes(
    harness: Harness,
) -> None:
    groups, ids, digests = await _put_groups(harness, 12)
    store = harness.store
    run_id = await store.start_run("run")
    # Two batches of 5 seen in line, each in its own answer; two groups in line alone.
    results = [_in_line(i, "A" if n < 5 else "B" if n < 10 else f"C{n}", digests[i]) for n, i in enumerate(ids)]
    await store.record_groups(run_id, results)
    page = await store.read_desired_page(None, 100, PageQuery(whole_batch=5))
    seen = [i for i in page if isinstance(i, SeenBatch)]
    assert [(b.group_ids, b.answer_digest) for b in seen] == [(ids[:5], "A"), (ids[5:10], "B")]
    assert _wanted(page) == ids[10:]
    singles = [i for i in page if isinstance(i, PageRow)]
    assert [r.live_digest for r in singles] == [f"live-{i}" for i in ids[10:]]
    # 0 means never: every row on its own.
    assert _wanted(await store.read_desired_page(None, 100)) == ids
    # A changed row is no longer as it was seen: it, and so its batch, is looked at row by row.
    await harness.put([replace(groups[2], name="renamed")])
    page = await store.read_desired_page(None, 100, PageQuery(whole_batch=5))
    assert [b.group_ids for b in page if isinstance(b, SeenBatch)] == [ids[5:10]]
    rows = {r.group_id: r for r in page if isinstance(r, PageRow)}
    assert rows[ids[2]].live_digest is None and rows[ids[0]].live_digest == f"live-{ids[0]}"
    # Read again one by one, without their batch's answer digest.
    again = await store.read_seen_rows([ids[3], ids[1], "no-such-group"])
    assert [(r.group_id, r.answer_digest, r.live_digest) for r in again] == [
        (ids[1], None, f"live-{ids[1]}"),
        (ids[3], None, f"live-{ids[3]}"),
    ]


async def test_a_batch_split_by_the_page_end_is_not_a_seen_batch(harness: Harness) -> None:
    _groups, ids, digests = await _put_groups(harness, 6)
    run_id = await harness.store.start_run("run")
    await harness.store.record_groups(run_id, [_in_line(i, "A", digests[i]) for i in ids[1:]])
    page = await harness.store.read_desired_page(None, 4, PageQuery(whole_batch=5))
    assert _wanted(page) == ids[:4]


async def test_recording_unchanged_groups_moves_their_run_and_answer_on(harness: Harness) -> None:
    _groups, ids, digests = await _put_groups(harness, 4)
    store = harness.store
    first = await store.start_run("run")
    await store.record_groups(first, [_in_line(i, "A", digests[i]) for i in ids])
    second = await store.start_run("run")
    await store.record_unchanged(second, [UnchangedBatch("\n".join(ids[:2]), "B"), UnchangedBatch(ids[3], None)])
    page = await store.read_desired_page(None, 10, PageQuery(run_id=second, whole_batch=2))
    assert _wanted(page) == [ids[2]]  # the others: recorded by this run
    third = await store.start_run("run")
    page = await store.read_desired_page(None, 10, PageQuery(run_id=third, whole_batch=2))
    assert [(b.group_ids, b.answer_digest) for b in page if isinstance(b, SeenBatch)] == [(ids[:2], "B")]


async def test_a_full_read_has_the_profile_and_a_digest_that_moves_with_it(harness: Harness) -> None:
    groups = [desired_group(i) for i in range(3)]
    await harness.put(groups)
    store = harness.store
    ids = [g.group_id for g in groups]
    before = await store.read_desired([*ids, "no-such-group"])
    assert sorted(before) == ids and all(r.profile.startswith("{") for r in before.values())
    await harness.put([replace(groups[1], name="renamed")])
    after = await store.read_desired(ids)
    assert after[ids[0]].desired_digest == before[ids[0]].desired_digest
    assert after[ids[1]].desired_digest != before[ids[1]].desired_digest
    assert await store.read_desired([]) == {}


async def test_a_page_reads_in_full_exactly_the_wanted_rows_not_seen_in_line(harness: Harness) -> None:
    groups = [desired_group(i) for i in range(6)]
    await harness.put(groups)
    store = harness.store
    ids = [g.group_id for g in groups]
    full = await store.read_desired(ids)
    run_id = await store.start_run("run")
    # 0, 1: seen in line; 2: failed; 3: seen in line, then changed; 4, 5: never synced.
    seen = [_in_line(i, answer, full[i].desired_digest) for i, answer in zip(ids[:4], "ABXC", strict=False)]
    await store.record_groups(run_id, [*seen[:2], GroupResult(ids[2], Outcome.FAILED), seen[3]])
    await harness.put([replace(groups[3], name="renamed")])
    now = await store.read_desired(ids)

    def read_in_full(rows: Sequence[PageRow | SeenBatch]) -> dict[str, tuple[str | None, str | None]]:
        return {r.group_id: (r.desired_digest, r.profile) for r in rows if isinstance(r, PageRow)}

    expected = {i: (now[i].desired_digest, now[i].profile) for i in ids[2:]}
    page = read_in_full(await store.read_desired_page(None, 100))
    assert page == {ids[0]: (None, None), ids[1]: (None, None), **expected}
    # The cursor's row, not wanted, is not read in full.
    second = await store.start_run("run")
    await store.record_groups(second, [GroupResult(ids[5], Outcome.IN_SYNC)])
    last = (await store.read_desired_page(None, 100, PageQuery(run_id=second)))[-1]
    assert isinstance(last, PageRow) and last.group_id == ids[5] and not last.wanted and last.profile is None
    failed = read_in_full(await store.read_desired_page(None, 100, PageQuery(selection="failed")))
    assert failed == {ids[2]: expected[ids[2]]}
    again = read_in_full(await store.read_seen_rows(ids[:4]))
    assert again == {ids[0]: (None, None), ids[1]: (None, None), ids[2]: expected[ids[2]], ids[3]: expected[ids[3]]}


async def test_an_attribute_fingerprint_is_kept_forgotten_or_left_as_the_result_says(harness: Harness) -> None:
    await harness.put([replace(desired_group(1), group_attrs={"k": "v"})])
    store = harness.store
    group_id = desired_group(1).group_id
    run_id = await store.start_run("run")

    async def page_row() -> PageRow:
        (row,) = await store.read_seen_rows([group_id])
        return row

    await store.record_groups(run_id, [GroupResult(group_id, Outcome.FAILED)])
    row = await page_row()
    assert row.manages_attrs and row.attrs_fingerprint is None and row.attrs_checked_age_s is None
    await store.record_groups(run_id, [GroupResult(group_id, Outcome.IN_SYNC, attrs_fingerprint="fp")])
    row = await page_row()
    assert row.attrs_fingerprint == "fp" and row.attrs_checked_age_s is not None and row.attrs_checked_age_s < 60
    await store.record_groups(run_id, [GroupResult(group_id, Outcome.IN_SYNC)])  # None: left as it was
    assert (await page_row()).attrs_fingerprint == "fp"
    await store.record_groups(run_id, [GroupResult(group_id, Outcome.FAILED, attrs_fingerprint="")])
    row = await page_row()
    assert row.attrs_fingerprint == "" and row.attrs_checked_age_s is None


async def test_the_last_completed_run_and_the_incremental_runs_since_the_last_full_one(harness: Harness) -> None:
    store = harness.store
    assert await store.last_completed_run() == (None, 0)
    totals = RunTotals("succeeded", 0, 0, 0, 0, 0, 0, 0, {})
    for mode, status in [("run", "succeeded"), ("incremental", "partial"), ("incremental", "failed")]:
        run_id = await store.start_run(mode)
        await store.finish_run(run_id, replace(totals, status=status))
    since, incremental = await store.last_completed_run()
    assert since is not None and incremental == 1
    assert await store.last_completed_run(Shard(0, 2)) == (None, 0)  # another shard count: its own


async def test_one_run_lock_holder_at_a_time(harness: Harness) -> None:
    from syncer.errors import RunLocked

    async with harness.store.run_lock("syncer.run.contract"):
        with pytest.raises(RunLocked):
            async with harness.store.run_lock("syncer.run.contract"):
                pass
    async with harness.store.run_lock("syncer.run.contract"):
        pass  # released with its block


async def test_the_journal_keeps_each_change_written_with_its_outcome_newest_first(harness: Harness) -> None:
    await harness.put([desired_group(1)])
    store = harness.store
    group_id = desired_group(1).group_id
    first = await store.start_run("run")
    written = [FieldChange("Name", "Old", "New"), FieldChange("GroupAttr.topic", None, "x")]
    await store.record_groups(first, [GroupResult(group_id, Outcome.UPDATED, changes=written)])
    second = await store.start_run("run")
    unanswered = GroupResult(group_id, Outcome.FAILED, unknown=[FieldChange("AppDefinedData.tier", "gold", None)])
    await store.record_groups(second, [unanswered, GroupResult("other", Outcome.IN_SYNC)])
    history = await store.history(group_id)
    assert [(e.run_id, e.field, e.before, e.after, e.outcome) for e in history] == [
        (second, "AppDefinedData.tier", "gold", None, "unknown"),
        (first, "GroupAttr.topic", None, "x", "applied"),
        (first, "Name", "Old", "New", "applied"),
    ]
    assert [e.field for e in await store.history(group_id, limit=1)] == ["AppDefinedData.tier"]
    assert await store.history("other") == []


async def test_targets_are_the_named_groups_that_have_a_row_and_a_page_reads_only_them(harness: Harness) -> None:
    _groups, ids, _ = await _put_groups(harness, 12)
    store = harness.store
    present, unknown = await store.targets([ids[9], "no-such-group", ids[2], ids[9]], None)
    assert (present, unknown) == ([ids[2], ids[9]], ["no-such-group"])
    page = await store.read_desired_page(None, 100, PageQuery(only=(ids[2], ids[5], ids[9])))
    assert _wanted(page) == [ids[2], ids[5], ids[9]]
    assert _wanted(await store.read_desired_page(ids[5], 100, PageQuery(only=(ids[9],)))) == [ids[9]]
