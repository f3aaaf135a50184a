"""Generated data sets: desired rows for Postgres and a drifted live state for the emulator.

Used by the demo, the tests and the benchmark, so all three exercise the same shapes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import asyncpg

from syncer import seeding
from syncer.emulator.state import EmuGroup
from syncer.tencent.models import PROFILE_COLUMNS, DesiredGroup

# The custom-field keys the generated groups carry: an emulator serving them enables these
# (`syncer emulator --custom-keys tier`), as an app enables its keys in the vendor's console.
CUSTOM_KEYS = ("tier",)


def desired_group(i: int) -> DesiredGroup:
    return DesiredGroup(
        f"grp-{i:07d}",
        name=f"Team {i}",
        introduction=f"The group for team {i}.",
        notification="Be kind.",
        face_url=f"https://cdn.example.com/groups/{i}.png",
        max_member_num=2000,
        apply_join_option="NeedPermission",
        invite_join_option="FreeAccess",
        mute_all_member=False,
        app_defined_data={"tier": "gold" if i % 3 else "silver"},
        group_attrs={"topic": f"topic-{i % 17}", "lang": "en"},
    )


def live_from_desired(row: DesiredGroup, group_type: str = "Public") -> EmuGroup:
    return EmuGroup(
        group_id=row.group_id,
        type=group_type,
        name=row.name or "",
        introduction=row.introduction or "",
        notification=row.notification or "",
        face_url=row.face_url or "",
        max_member_num=row.max_member_num or 2000,
        apply_join_option=row.apply_join_option or "FreeAccess",
        invite_join_option=row.invite_join_option or "FreeAccess",
        mute_all_member="On" if row.mute_all_member else "Off",
        app_defined_data=dict(row.app_defined_data or {}),
        attrs=dict(row.group_attrs or {}),
    )


Dataset = seeding.Dataset[DesiredGroup, EmuGroup]


def drifted_dataset(
    n: int,
    *,
    seed: int = 7,
    base_drift: float = 0.5,
    attr_drift: float = 0.25,
    invalid: int = 0,
    restricted: int = 0,
    first: int = 0,
) -> Dataset:
    """``n`` groups; about ``base_drift`` of them differ in base fields or custom data and
    ``attr_drift`` in attributes; the first ``invalid`` rows break a limit; the last
    ``restricted`` are AVChatRoom groups whose managed MaxMemberNum differs (a type warning).
    The live side depends only on ``n``, ``seed``, the drifts and ``restricted``, so an emulator
    process seeded with those matches desired rows generated here."""
    rng = random.Random(seed)
    data = Dataset()
    for i in range(first, first + n):
        row = desired_group(i)
        live = live_from_desired(row)
        k = i - first
        if k < invalid:
            row = _broken(row, k)
            data.invalid.add(row.group_id)
        elif k >= n - restricted:
            live.type = "AVChatRoom"
            live.max_member_num = 300
            data.restricted.add(row.group_id)
        drifted = False
        if rng.random() < base_drift:
            drifted = True
            _drift_base(live, i, rng.randrange(5))
        if rng.random() < attr_drift:
            drifted = True
            live.attrs = {"topic": "stale"} if rng.random() < 0.5 else {}
        if drifted and row.group_id not in data.invalid:
            data.drifted.add(row.group_id)
        data.desired.append(row)
        data.live.append(live)
    return data


def _drift_base(live: EmuGroup, i: int, choice: int) -> None:
    """One of five ways a group's base fields or custom data drift at the vendor."""
    if choice == 0:
        live.name = f"Old team {i}"
    elif choice == 1:
        live.face_url = f"https://old-cdn.example.com/{i}.png"
    elif choice == 2:
        live.mute_all_member = "On"
    elif choice == 3:
        live.app_defined_data = {"tier": "bronze"}
    else:
        live.introduction, live.apply_join_option = "", "FreeAccess"


def _broken(row: DesiredGroup, k: int) -> DesiredGroup:
    kinds: list[dict[str, Any]] = [
        {"name": "群" * 11},  # 33 UTF-8 bytes: over the 30-byte limit though only 11 characters
        {"apply_join_option": "Anyone"},
        {"group_attrs": {"topic": 42}},
        {"face_url": "https://cdn.example.com/" + "x" * 90},
        {"app_defined_data": ["not", "an", "object"]},
        {"max_member_num": 0},
    ]
    return replace(row, **kinds[k % len(kinds)])


async def insert_desired(conn: asyncpg.Connection, rows: Sequence[DesiredGroup]) -> None:
    """Bulk-load desired rows with COPY (the table must exist: run the migrations first)."""
    await seeding.copy_desired(conn, "desired_group_profiles", "group_id", PROFILE_COLUMNS, rows)
