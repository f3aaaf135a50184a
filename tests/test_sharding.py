"""Sharded runs: disjoint, complete, within the vendor's limits together, one copy per shard."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from syncer.db.store import PgStore
from syncer.errors import ConfigError, RunLocked
from syncer.ports import PageQuery, PageRow
from syncer.settings import Secret, Settings, settings_from_env
from syncer.sharding import Shard, shard_of
from syncer.tencent.client import TencentClient
from syncer.tencent.seeding import desired_group, drifted_dataset
from syncer.tencent.settings import TencentSettings

from .helpers import emulator_process, fetch, load_desired, sync


def test_a_group_always_falls_to_the_same_shard_and_shards_are_about_even() -> None:
    ids = [f"grp-{i:07d}" for i in range(20_000)]
    assert [shard_of(g, 4) for g in ids] == [shard_of(g, 4) for g in ids]
    sizes = Counter(shard_of(g, 4) for g in ids)
    assert set(sizes) == {0, 1, 2, 3}
    assert all(4_500 < n < 5_500 for n in sizes.values()), sizes
    assert all(Shard(shard_of(g, 3), 3).owns(g) for g in ids[:100])


def test_each_shard_takes_its_share_of_every_limit_and_the_shares_never_add_up_to_more() -> None:
    vendor: dict[str, Any] = {"tencent": TencentSettings(1400000000, Secret("k" * 64))}
    client = TencentClient(Settings(rate_limit_overrides={"set_group_attr": 50}, shard=Shard(2, 3), **vendor))
    assert client.limits["get_group_info"] == 66  # Tencent's 200/s, split three ways
    assert client.limits["set_group_attr"] == 16
    assert 3 * client.limits["get_group_info"] <= 200
    assert Settings(shard=Shard(2, 3)).vendor_limit_for("get_group_info", 200) == 200
    assert Settings().attr_writes_per_group == 5  # a group is in one shard only: its own limit is whole
    with pytest.raises(ConfigError, match="cannot be shared among 8 shards"):
        TencentClient(Settings(rate_limit_overrides={"set_group_attr": 5}, shard=Shard(0, 8), **vendor))


def shard_from_env(env: dict[str, str]) -> Shard:
    return settings_from_env(env).shard


def test_shard_settings_come_from_an_indexed_job() -> None:
    assert shard_from_env({"JOB_COMPLETION_INDEX": "2", "SYNCER_SHARD_COUNT": "4"}) == Shard(2, 4)
    assert shard_from_env({"SYNCER_SHARD_INDEX": "1", "JOB_COMPLETION_INDEX": "2", "SYNCER_SHARD_COUNT": "4"}) == Shard(
        1, 4
    )
    assert shard_from_env({}) == Shard(0, 1)
    with pytest.raises(ConfigError, match=r"SYNCER_SHARD_COUNT.*no shard count"):
        shard_from_env({"JOB_COMPLETION_INDEX": "3"})
    with pytest.raises(ConfigError, match="from 0 to 3"):
        shard_from_env({"SYNCER_SHARD_INDEX": "4", "SYNCER_SHARD_COUNT": "4"})
    with pytest.raises(ConfigError, match=r"SYNCER_SHARD_COUNT.*'four' is not a whole number"):
        shard_from_env({"SYNCER_SHARD_COUNT": "four"})


async def test_postgres_and_python_put_every_group_in_the_same_shard(db: str) -> None:
    rows = [desired_group(i) for i in range(3_000)]
    await load_desired(db, rows)
    async with PgStore.open(db, "tencent") as store:
        for count in (1, 3, 7):
            expected = Counter(shard_of(r.group_id, count) for r in rows)
            counted = {index: await store.count_desired(Shard(index, count)) for index in range(count)}
            assert counted == dict(expected)
            page = await store.read_desired_page(None, 5_000, PageQuery(shard=Shard(count - 1, count)))
            wanted = {r.group_id for r in page if isinstance(r, PageRow) and r.wanted}
            assert wanted == {r.group_id for r in rows if shard_of(r.group_id, count) == count - 1}


async def test_shards_run_side_by_side_two_copies_of_one_shard_cannot(db: str) -> None:
    async with PgStore.open(db) as store:
        app = "syncer.run.tencent.1"
        async with store.run_lock(f"{app}.shard.0.of.2", within=app), store.run_lock(f"{app}.shard.1.of.2", within=app):
            with pytest.raises(RunLocked, match=r"shard\.0\.of\.2"):
                async with store.run_lock(f"{app}.shard.0.of.2", within=app):
                    pass
            with pytest.raises(RunLocked):  # an unsharded run would overlap every shard
                async with store.run_lock(app):
                    pass
        async with store.run_lock(app):
            with pytest.raises(RunLocked):
                async with store.run_lock(f"{app}.shard.1.of.2", within=app):
                    pass
        async with store.run_lock(f"{app}.shard.1.of.2", within=app):
            pass  # every lock went with its holder


async def test_three_shards_at_once_cover_every_group_once_and_stay_within_the_limits_together(db: str) -> None:
    n, limit, shards = 240, 60, 3
    data = drifted_dataset(n, seed=21, base_drift=0.5, attr_drift=0.3)
    await load_desired(db, data.desired)
    async with emulator_process(
        "--seed-groups", str(n), "--seed", "21", "--drift", "0.5", "--attr-drift", "0.3", "--rate-limit", str(limit)
    ) as remote:
        # The same margin as the single-worker limit test: it covers the emulator's arrival jitter.
        reports = await asyncio.gather(
            *(
                sync(remote.settings(db, rate_limit=limit, limiter_margin_s=0.1, shard=Shard(i, shards)))
                for i in range(shards)
            )
        )
        stats = await remote.get("stats")
        log = await remote.get("log")

    assert [r.exit_code for r in reports] == [0] * shards
    assert sum(r.groups_read for r in reports) == n
    assert sum(r.outcomes["updated"] for r in reports) == len(data.drifted)
    assert all(peak <= limit // shards for r in reports for peak in r.peak_sends_per_second.values())
    assert [r for r in log if r["code"] != 0] == []  # no throttling, no refusal
    assert all(peak <= limit for peak in stats["max_calls_per_window"].values()), stats
    written = Counter(g for r in log if r["command"] == "modify_group_base_info" for g in r["group_ids"])
    assert written and set(written) <= data.drifted and max(written.values()) == 1  # no group twice

    recorded = await fetch(
        db,
        "SELECT s.group_id, r.shard_index, r.shard_count FROM group_sync_state s JOIN sync_runs r ON r.run_id = s.last_run_id",
    )
    assert len(recorded) == n and {r["group_id"] for r in recorded} == {g.group_id for g in data.desired}
    assert all(shard_of(r["group_id"], 3) == r["shard_index"] and r["shard_count"] == 3 for r in recorded)
