"""Generated Nexconn data sets: desired channels for Postgres, a drifted live state for the emulator."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import asyncpg

from syncer import seeding
from syncer.emulator.nexconn import EmuChannel
from syncer.nexconn.api import PERMISSIONS, PROFILE_FIELDS
from syncer.nexconn.models import PROFILE_COLUMNS, DesiredChannel


def desired_channel(i: int) -> DesiredChannel:
    # ID, name, introduction, announcement, portrait URL, then each permission (PERMISSIONS' order).
    texts = (
        f"Channel {i}",
        f"The channel for team {i}.",
        "Welcome! 欢迎!",
        f"https://cdn.example.com/channels/{i}.png",
    )
    return DesiredChannel(
        f"ch{i:07d}",
        *texts,
        *(1, 1, 2, 0, 1, 0),
        ext_profile={"ext_tier": "gold" if i % 2 else "silver", "ext_region": "sg"},
    )


def live_from_desired(row: DesiredChannel) -> EmuChannel:
    return EmuChannel(
        row.channel_id,
        profile={key: getattr(row, column) or "" for column, key in PROFILE_FIELDS.items()},
        permissions={key: getattr(row, column) or 0 for column, (key, _) in PERMISSIONS.items()},
        ext=dict(row.ext_profile or {}),
    )


ChannelDataset = seeding.Dataset[DesiredChannel, EmuChannel]


def drifted_channels(n: int, *, seed: int = 7, drift: float = 0.5, invalid: int = 0) -> ChannelDataset:
    """``n`` channels; about ``drift`` of them differ live; the first ``invalid`` rows break a limit."""
    rng = random.Random(seed)
    data = ChannelDataset()
    for i in range(n):
        row = desired_channel(i)
        live = live_from_desired(row)
        if i < invalid:
            row = _broken(row, i)
            data.invalid.add(row.channel_id)
        if rng.random() < drift:
            choice = rng.randrange(4)
            if choice == 0:
                live.profile["name"] = f"Old channel {i}"
            elif choice == 1:
                live.profile["portraitUrl"] = f"https://old-cdn.example.com/{i}.png"
            elif choice == 2:
                live.permissions["joinPerm"] = 3
            else:
                live.ext = {"ext_tier": "bronze"}
            if row.channel_id not in data.invalid:
                data.drifted.add(row.channel_id)
        data.desired.append(row)
        data.live.append(live)
    return data


def _broken(row: DesiredChannel, i: int) -> DesiredChannel:
    kinds: list[dict[str, Any]] = [
        {"name": "频" * 65},  # 65 characters: over the 64-character limit
        {"join_perm": 4},
        {"ext_profile": {"tier": "gold"}},  # no ext_ prefix
        {"portrait_url": "https://cdn.example.com/" + "x" * 110},
        {"ext_profile": {f"ext_{k}": "v" for k in range(11)}},
    ]
    return replace(row, **kinds[i % len(kinds)])


async def insert_desired_channels(conn: asyncpg.Connection, rows: Sequence[DesiredChannel]) -> None:
    """Bulk-load desired channels with COPY (run the migrations first)."""
    await seeding.copy_desired(conn, "desired_group_channels", "channel_id", PROFILE_COLUMNS, rows)
