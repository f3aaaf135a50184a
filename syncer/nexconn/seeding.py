"""Generated Nexconn data sets: desired channels for Postgres, a drifted live state for the emulator."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import asyncpg

from syncer.emulator.nexconn import EmuChannel
from syncer.nexconn.models import DesiredChannel

CHANNEL_COLUMNS = (
    "channel_id",
    "name",
    "introduction",
    "announcement",
    "portrait_url",
    "join_perm",
    "remove_perm",
    "mem_invite_perm",
    "invite_perm",
    "profile_perm",
    "mem_profile_perm",
    "ext_profile",
)


@dataclass
class ChannelDataset:
    desired: list[DesiredChannel] = field(default_factory=list)
    live: list[EmuChannel] = field(default_factory=list)
    drifted: set[str] = field(default_factory=set)
    invalid: set[str] = field(default_factory=set)


def desired_channel(i: int) -> DesiredChannel:
    return DesiredChannel(
        channel_id=f"ch{i:07d}",
        name=f"Channel {i}",
        introduction=f"The channel for team {i}.",
        announcement="Welcome! 欢迎!",
        portrait_url=f"https://cdn.example.com/channels/{i}.png",
        join_perm=1,
        remove_perm=1,
        mem_invite_perm=2,
        invite_perm=0,
        profile_perm=1,
        mem_profile_perm=0,
        ext_profile={"ext_tier": "gold" if i % 2 else "silver", "ext_region": "sg"},
    )


def live_from_desired(row: DesiredChannel) -> EmuChannel:
    permissions = {
        "joinPerm": row.join_perm or 0,
        "removePerm": row.remove_perm or 0,
        "memInvitePerm": row.mem_invite_perm or 0,
        "invitePerm": row.invite_perm or 0,
        "profilePerm": row.profile_perm or 0,
        "memProfilePerm": row.mem_profile_perm or 0,
    }
    return EmuChannel(
        channel_id=row.channel_id,
        name=row.name or "",
        introduction=row.introduction or "",
        announcement=row.announcement or "",
        portrait_url=row.portrait_url or "",
        permissions=permissions,
        ext=dict(row.ext_profile or {}),
    )


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
                live.name = f"Old channel {i}"
            elif choice == 1:
                live.portrait_url = f"https://old-cdn.example.com/{i}.png"
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


def channel_records(rows: Sequence[DesiredChannel]) -> list[tuple[object, ...]]:
    records = []
    for row in rows:
        values = asdict(row)
        ext = values["ext_profile"]
        values["ext_profile"] = None if ext is None else json.dumps(ext, ensure_ascii=False)
        records.append(tuple(values[c] for c in CHANNEL_COLUMNS))
    return records


async def insert_desired_channels(conn: asyncpg.Connection, rows: Sequence[DesiredChannel]) -> None:
    """Bulk-load desired channels with COPY (run the migrations first)."""
    await conn.copy_records_to_table(
        "desired_group_channels", records=channel_records(rows), columns=list(CHANNEL_COLUMNS)
    )
