"""Incremental runs: only rows changed since the last completed run, and a full run every K."""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from syncer.emulator.server import Emulator
from syncer.tencent.seeding import desired_group, live_from_desired

from .helpers import fast, load_desired, mismatches, seeded, settings_for, sync


async def test_incremental_runs_read_only_what_changed_and_every_kth_run_is_full(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 400, seed=31)
    settings = settings_for(db, emulator, incremental=True, full_every=3, **fast(emulator))

    first = await sync(settings)  # no completed run yet: a full one
    assert first.mode == "run" and first.groups_read == 400 and first.exit_code == 0

    conn = await asyncpg.connect(db)
    try:
        await conn.execute(
            "UPDATE desired_group_profiles SET name = name || ' (renamed)' "
            "WHERE group_id IN ('grp-0000010', 'grp-0000200', 'grp-0000399')"
        )
    finally:
        await conn.close()
    new_row = desired_group(7_000)
    emulator.seed([live_from_desired(replace(new_row, name="stale"))])
    await load_desired(db, [new_row])
    emulator.groups["grp-0000100"].name = "changed at the vendor by someone else"

    second = await sync(settings)
    assert second.mode == "incremental"
    assert second.groups_read == 4  # three renamed rows and one never synced
    # One batch read; the new group's attributes are read once (nothing confirmed them yet).
    assert second.calls == {"get_group_info": 1, "get_group_attr": 1, "modify_group_base_info": 4}
    assert emulator.groups["grp-0000200"].name.endswith("(renamed)")
    assert emulator.groups[new_row.group_id].name == new_row.name
    assert emulator.groups["grp-0000100"].name == "changed at the vendor by someone else"  # not looked at

    third = await sync(settings)  # nothing changed since the second
    assert third.mode == "incremental" and third.groups_read == 0 and third.calls == {}

    fourth = await sync(settings)  # the third run since the full one: full again, drift repaired
    assert fourth.mode == "run" and fourth.groups_read == 401
    assert emulator.groups["grp-0000100"].name == "Team 100"
    rows = [*data.desired, new_row]
    conn = await asyncpg.connect(db)
    try:
        renamed = {
            r["group_id"]: r["name"] for r in await conn.fetch("SELECT group_id, name FROM desired_group_profiles")
        }
    finally:
        await conn.close()
    assert mismatches([replace(r, name=renamed[r.group_id]) for r in rows], emulator) == []


async def test_an_update_moves_updated_at_even_when_the_writer_forgets(db: str) -> None:
    await load_desired(db, [desired_group(1)])
    conn = await asyncpg.connect(db)
    try:
        before = await conn.fetchval("SELECT updated_at FROM desired_group_profiles")
        await conn.execute("UPDATE desired_group_profiles SET notification = 'new'")
        after = await conn.fetchval("SELECT updated_at FROM desired_group_profiles")
        await conn.execute("UPDATE desired_group_profiles SET notification = 'new'")  # no change: no move
        unchanged = await conn.fetchval("SELECT updated_at FROM desired_group_profiles")
    finally:
        await conn.close()
    assert after > before
    assert unchanged == after
