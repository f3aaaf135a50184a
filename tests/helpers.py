"""Shared test steps: settings for a test's emulator, a sync, and a desired-vs-live comparison."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import asyncpg

from syncer.db.store import PgStore
from syncer.emulator.process import emulator_process
from syncer.emulator.server import Emulator
from syncer.models import GroupPlan, GroupResult
from syncer.nexconn.seeding import ChannelDataset, drifted_channels, insert_desired_channels
from syncer.nexconn.settings import NexconnSettings
from syncer.pipeline import Reconciler, RunReport
from syncer.savedplan import SavedPlan
from syncer.settings import Secret, Settings
from syncer.tencent.models import DesiredGroup
from syncer.tencent.seeding import Dataset, drifted_dataset, insert_desired
from syncer.tencent.settings import TencentSettings
from syncer.vendors import make_vendor

__all__ = ["emulator_process"]


# Each vendor's own settings a test may override by their flat names (``base_url=...`` is
# Tencent's, ``nexconn_base_url=...`` Nexconn's).
_TENCENT_KEYS = ("sdkappid", "secret_key", "admin", "base_url")
_NEXCONN_KEYS = {"nexconn_app_key": "app_key", "nexconn_app_secret": "app_secret"} | {
    "nexconn_base_url": "base_url",
    "nexconn_backup_url": "backup_url",
}


def settings_for(db_url: str, emulator: Emulator, **overrides: Any) -> Settings:
    config = emulator.config
    tencent = TencentSettings(config.sdkappid, Secret(config.secret_key), base_url=emulator.base_url)
    tencent = replace(tencent, **{k: overrides.pop(k) for k in _TENCENT_KEYS if k in overrides})
    nexconn = NexconnSettings(
        config.nexconn_app_key, Secret(config.nexconn_app_secret), emulator.base_url, f"{emulator.base_url}/backup"
    )
    nexconn = replace(nexconn, **{field: overrides.pop(k) for k, field in _NEXCONN_KEYS.items() if k in overrides})
    values: dict[str, Any] = {
        "database_url": Secret(db_url),
        "tencent": tencent,
        "nexconn": nexconn,
        # Short backoff: tests exercise the retries, not their patience.
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


def fast(emulator: Emulator, rate: int = 2000) -> dict[str, Any]:
    """Raise the emulator's limit and the client's together, for tests about other things."""
    emulator.config.rate_limit = rate
    emulator.config.nexconn_rate_limit = rate
    return {"rate_limit": rate}


async def fetch(db: str, sql: str, *args: object) -> list[asyncpg.Record]:
    """One query on a connection of its own."""
    conn = await asyncpg.connect(db)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def load_desired(db_url: str, rows: Sequence[DesiredGroup]) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await insert_desired(conn, rows)
    finally:
        await conn.close()


async def seeded(db_url: str, emulator: Emulator, n: int, **generator: Any) -> Dataset:
    """A generated data set of ``n`` groups (``generator``: drifted_dataset's options): its live
    side in the emulator, its desired rows in the database."""
    data = drifted_dataset(n, **generator)
    emulator.seed(data.live)
    await load_desired(db_url, data.desired)
    return data


async def seeded_channels(db_url: str, emulator: Emulator, n: int, **generator: Any) -> ChannelDataset:
    """As :func:`seeded`, for Nexconn channels."""
    data = drifted_channels(n, **generator)
    emulator.nexconn.seed(data.live)
    conn = await asyncpg.connect(db_url)
    try:
        await insert_desired_channels(conn, data.desired)
    finally:
        await conn.close()
    return data


async def sync(
    settings: Settings,
    *,
    dry_run: bool = False,
    on_plan: Callable[[GroupPlan, GroupResult], None] | None = None,
    planned: SavedPlan | None = None,
) -> RunReport:
    vendor = make_vendor(settings)
    async with PgStore.open(settings.require_database(), vendor.name) as store, vendor.client:
        return await Reconciler(settings, store, vendor, dry_run=dry_run, on_plan=on_plan, planned=planned).run()


def writes(report: RunReport) -> int:
    return sum(n for command, n in report.calls.items() if not command.startswith("get_"))


def reads_expected(n_valid: int) -> int:
    return math.ceil(n_valid / 50)


def mismatches(rows: Sequence[DesiredGroup], emulator: Emulator) -> list[str]:
    """Every managed field where the emulator's group differs from the desired row."""
    problems = []
    for row in rows:
        group = emulator.groups.get(row.group_id)
        if group is None:
            problems.append(f"{row.group_id}: missing")
            continue
        expected = {
            "name": row.name,
            "introduction": row.introduction,
            "notification": row.notification,
            "face_url": row.face_url,
            "max_member_num": row.max_member_num,
            "apply_join_option": row.apply_join_option,
            "invite_join_option": row.invite_join_option,
            "mute_all_member": None if row.mute_all_member is None else ("On" if row.mute_all_member else "Off"),
        }
        for attr, want in expected.items():
            if want is not None and getattr(group, attr) != want:
                problems.append(f"{row.group_id}.{attr}: {getattr(group, attr)!r} != {want!r}")
        for key, value in (row.app_defined_data or {}).items():
            have = group.app_defined_data.get(key)
            if (value or None) != have:
                problems.append(f"{row.group_id}.AppDefinedData.{key}: {have!r} != {value!r}")
        if row.group_attrs is not None and group.attrs != row.group_attrs:
            problems.append(f"{row.group_id}.attrs: {group.attrs!r} != {row.group_attrs!r}")
    return problems


def summary_line(text: str, label: str) -> tuple[int, str]:
    """The count and the detail on the summary's line ``label`` (``  failed   2  80001 2``)."""
    match = re.search(rf"^  {re.escape(label)} +([\d,]+)(?:  +(.*))?$", text, re.MULTILINE)
    assert match is not None, (label, text)
    return int(match[1].replace(",", "")), match[2] or ""
