"""The `syncer` command: migrate, plan, run, demo, emulator.

Settings come from the environment, then flags (flags win); both are turned into one
:class:`Settings` here and passed down.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from syncer import __version__, options
from syncer.db.store import DbTimeouts, PgStore
from syncer.errors import ConfigError, SyncerError
from syncer.logs import configure_logging
from syncer.metrics import RunMetrics, serve_metrics
from syncer.models import GroupPlan, GroupResult
from syncer.option import Parse, number
from syncer.output import Output, use_color
from syncer.pipeline import Reconciler, RunObserver, RunReport
from syncer.planview import detailed_exit_code, group_lines, plan_view
from syncer.progress import Progress, StatusLine
from syncer.quoting import clip, quote
from syncer.report import print_history, print_status, print_summary, render_migration_status
from syncer.savedplan import SavedPlan, load_plan, parse_plan, plan_writer, revert_plan
from syncer.settings import (
    Settings,
    settings_from_env,
)
from syncer.stopping import StopSignals, stoppable
from syncer.vendors import desired_setup, desired_setups, make_vendor

Handler = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def _common(parser: argparse.ArgumentParser) -> None:
    options.add_flags(parser.add_argument_group("database, logging and colour"), "common")


def _vendor(parser: argparse.ArgumentParser) -> None:
    options.add_flags(parser.add_argument_group("vendor"), "which-vendor", "vendor")
    options.add_flags(parser.add_argument_group("calls, thresholds, sharding and observing"), "run")
    g = parser.add_argument_group("targeting: a canary, or one part of a migration")
    g.add_argument("--group", action="append", default=[], metavar="ID", help="only this group (repeatable)")
    g.add_argument("--groups-file", metavar="PATH", help="only the groups listed in this file, one ID a line")
    g.add_argument(
        "--where",
        metavar="SQL",
        help="only the groups of the desired relation this SQL predicate selects (run read-only), "
        "e.g. \"face_url LIKE 'https://old-cdn.%%'\"",
    )


COUNT = number(int, low=0)


def _argument(name: str, parse: Parse) -> Callable[[str], Any]:
    """A verb's own argument read as ``parse`` reads a setting: a bad one is a ConfigError naming
    it (exit 78), as a setting's is, not argparse's usage error."""

    def read(value: str) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None

    return read


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """``verb``: the verb about to be parsed. The demo's and the emulator's own arguments are
    only added for theirs: they bring the emulator's web server, whose slow import every
    scheduled run would otherwise pay (bench/RESULTS.md, "Why the code is as it is")."""
    parser = argparse.ArgumentParser(
        prog="syncer", description="Reconcile chat-group profiles at the vendor with Postgres."
    )
    parser.add_argument("--version", action="version", version=f"syncer {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("migrate", help="create or upgrade syncer's tables")
    _common(p)
    options.add_flags(p.add_argument_group("vendor: whose desired relation --desired-relation names"), "which-vendor")
    p.add_argument(
        "--status",
        action="store_true",
        help="change nothing: show each migration (applied when, pending, or changed since) and each vendor's "
        "view; exit 0 when up to date, 2 when `syncer migrate` has something to do",
    )
    p.set_defaults(handler=cmd_migrate)

    p = verbs.add_parser("plan", help="show what would change; no write call")
    _common(p)
    _vendor(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="JSON lines: the totals and the roll-up by field, then one per group, then one per group not planned",
    )
    p.add_argument("--full-values", action="store_true", help="show long values whole, not shortened in the middle")
    p.add_argument("--out", metavar="PLAN", help="save the plan to this file, for `syncer apply PLAN`")
    p.add_argument("--save", action="store_true", help="save the plan in Postgres, for `syncer apply plan:ID`")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 with nothing to change, 2 with changes pending, 1 on an error (as terraform plan)",
    )
    p.set_defaults(handler=cmd_plan)

    p = verbs.add_parser("status", help="the last runs, and the groups failing or rejected, with their errors")
    _common(p)
    p.add_argument(
        "--runs", type=_argument("--runs", COUNT), default=10, help="how many recent runs to show (default 10)"
    )
    p.add_argument(
        "--groups", type=_argument("--groups", COUNT), default=50, help="how many troubled groups to show (default 50)"
    )
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(handler=cmd_status)

    p = verbs.add_parser(
        "check", help="before a first run: will it work against this app and database? (no write changes anything)"
    )
    _common(p)
    options.add_flags(p.add_argument_group("vendor"), "which-vendor", "vendor")
    p.add_argument(
        "--canary",
        metavar="GROUP_ID",
        help="a group whose current custom-field values check may write back unchanged, to learn whether "
        "each key the desired rows manage is enabled (a test group is best: members may see a notice)",
    )
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(handler=cmd_check)

    p = verbs.add_parser("apply", help="send exactly a saved plan's writes; a group changed since is stale")
    _common(p)
    _vendor(p)
    p.add_argument(
        "plan", metavar="PLAN", help="a file of `syncer plan --out PLAN`, or plan:ID of `syncer plan --save`"
    )
    p.add_argument(
        "--max-plan-age",
        type=_argument("--max-plan-age", number(float, low=0, above=True)),
        default=24.0,
        metavar="HOURS",
        help="refuse a plan older than this (default 24)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=cmd_apply)

    p = verbs.add_parser("revert", help="write back what a run changed, where it still holds what the run wrote")
    _common(p)
    _vendor(p)
    p.add_argument(
        "run_id",
        metavar="RUN_ID",
        type=_argument("RUN_ID", number(int, low=1)),
        help="the run, as syncer status shows it",
    )
    p.add_argument("--plan", action="store_true", help="show what would be written back; send nothing")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=cmd_revert)

    p = verbs.add_parser("history", help="a group's changes from the change journal, newest first")
    _common(p)
    p.add_argument("group_id", metavar="GROUP_ID", help="the group's ID, as the desired relation has it")
    options.add_flags(p.add_argument_group("vendor: whose group"), "which-vendor")
    p.add_argument(
        "--limit",
        type=_argument("--limit", number(int, low=1)),
        default=100,
        help="at most this many changes (default 100)",
    )
    p.add_argument("--json", action="store_true", help="JSON lines, one change each")
    p.set_defaults(handler=cmd_history)

    p = verbs.add_parser("prune", help="drop change-journal entries older than the retention")
    _common(p)
    options.add_flags(p, "prune")
    p.set_defaults(handler=cmd_prune)

    p = verbs.add_parser("run", help="reconcile; exit 0 all in sync, 2 some rejected or failed, 1 fatal")
    _common(p)
    _vendor(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    options.add_flags(p.add_argument_group("incremental runs"), "incremental")
    p.set_defaults(handler=cmd_run)

    p = verbs.add_parser("demo", help="a local Postgres and emulator, a drifted data set, a full sync")
    if verb == "demo":
        from syncer.demo import add_demo_arguments, cmd_demo

        add_demo_arguments(p)
        p.set_defaults(handler=cmd_demo)

    p = verbs.add_parser("emulator", help="serve the built-in emulator of every vendor's API")
    if verb == "emulator":
        from syncer.emulator.cli import add_emulator_arguments, cmd_emulator

        add_emulator_arguments(p)
        p.set_defaults(handler=cmd_emulator)
    return parser


def build_settings(args: argparse.Namespace, env: dict[str, str] | None = None) -> Settings:
    """The settings: the environment's, then the flags' over them (syncer/options.py holds them,
    each with its flag, variable, range and default); then what this run targets."""
    settings = options.from_flags(settings_from_env(env), args)
    get = vars(args).get
    targets = (*(get("group") or ()), *_ids_in(get("groups_file")))
    if targets or get("where") is not None:
        settings = replace(settings, targets=tuple(dict.fromkeys(targets)), target_filter=get("where"))
    return settings


def _ids_in(path: str | None) -> list[str]:
    """The group IDs a --groups-file lists, one a line (blank lines and # comments skipped)."""
    if path is None:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--groups-file {path}: {exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    timeouts = DbTimeouts(settings.db_connect_timeout_s, settings.db_statement_timeout_s)
    async with PgStore.open(settings.require_database(), timeouts=timeouts, schema=settings.schema) as store:
        if args.status:
            states, views = await store.migration_status(desired_setups(settings))
            render_migration_status(states, views, settings.vendor, args.stdout)
            pending = any(s.applied_at is None for s in states) or views[settings.vendor] is not None
            return 2 if pending else 0
        report = await store.migrate(desired_setups(settings))
        versions = await store.applied_versions()
    for migration in report.applied:
        print(f"applied {migration.version:03d}_{migration.name}")
    for made in report.made:
        print(made)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    nothing = not report.applied and not report.made
    print(f"schema is at version {max(versions)}" + (" (nothing to do)" if nothing else ""))
    return 0


def _notices(args: argparse.Namespace) -> Callable[[str], object]:
    """Where a stop's notices go: above the progress bar on a terminal, else standard error."""
    terminal: StatusLine | None = getattr(args, "terminal", None)
    return terminal.write if terminal is not None else sys.stderr.write


def progress_for(settings: Settings, terminal: StatusLine | None) -> Progress | None:
    style = settings.progress
    if style == "auto":
        style = "bar" if terminal is not None and terminal.isatty() else "log"
    if style == "off":
        return None
    if style == "bar" and terminal is None:
        style = "log"
    return Progress(style, terminal=terminal, interval_s=settings.progress_interval_s)


async def reconcile(
    settings: Settings,
    *,
    dry_run: bool,
    on_plan: Callable[[GroupPlan, GroupResult], None] | None = None,
    signals: StopSignals | None = None,
    terminal: StatusLine | None = None,
    observers: Sequence[RunObserver] = (),
    planned: SavedPlan | None = None,
) -> RunReport:
    """One run or plan with everything a deployed run has: metrics, progress, the lock."""
    metrics = RunMetrics(job=settings.metrics_job, vendor=settings.vendor, shard=settings.shard)
    if settings.pushgateway_url is not None and not dry_run:
        metrics.push_start_to(settings.pushgateway_url.reveal())
    # Checks the vendor settings before touching the database.
    vendor = make_vendor(settings, on_answer=metrics.on_answer)
    watching: list[RunObserver] = [metrics, *observers]
    if (progress := progress_for(settings, terminal)) is not None:
        watching.append(progress)
    async with contextlib.AsyncExitStack() as stack:
        if settings.metrics_port is not None:
            await stack.enter_async_context(serve_metrics(metrics, settings.metrics_host, settings.metrics_port))
        timeouts = DbTimeouts(settings.db_connect_timeout_s, settings.db_statement_timeout_s)
        store = await stack.enter_async_context(
            PgStore.open(settings.require_database(), vendor.name, timeouts, schema=settings.schema)
        )
        await store.check_schema(desired_setup(settings, vendor.name))
        await stack.enter_async_context(vendor.client)
        reconciler = Reconciler(
            settings,
            store,
            vendor,
            dry_run=dry_run,
            on_plan=on_plan,
            stop=None if signals is None else signals.stop,
            observers=watching,
            on_phase=None if signals is None else signals.on_phase,
            planned=planned,
        )
        try:
            return await reconciler.run()
        finally:
            if settings.pushgateway_url is not None and not dry_run and reconciler.report.run_id is not None:
                await metrics.push(settings.pushgateway_url.reveal())
    raise AssertionError("unreachable")  # pragma: no cover - the exit stack re-raises


async def cmd_plan(settings: Settings, args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or (str(Path(scratch) / "plan") if args.save else None)
        exit_code, groups = await _plan(settings, args, out)
        if out is not None and groups is not None:
            if args.out:
                print(f"saved the plan of {groups} groups to {args.out}", file=sys.stderr)
            if args.save:
                body = await asyncio.to_thread(Path(out).read_bytes)
                plan_id = await _save_plan(settings, groups, body)
                print(
                    f"saved the plan of {groups} groups as plan:{plan_id}: syncer apply plan:{plan_id}", file=sys.stderr
                )
    return exit_code


async def _save_plan(settings: Settings, groups: int, body: bytes) -> int:
    timeouts = DbTimeouts(settings.db_connect_timeout_s, settings.db_statement_timeout_s)
    async with PgStore.open(settings.require_database(), settings.vendor, timeouts, schema=settings.schema) as store:
        return await store.save_plan(settings.app_scope(), groups, body)


async def _plan(settings: Settings, args: argparse.Namespace, out: str | None) -> tuple[int, int | None]:
    """The plan, shown; and written to ``out`` if set: its exit code and how many groups it saved
    (None: none saved)."""
    with contextlib.ExitStack() as stack:
        view = stack.enter_context(plan_view(as_json=args.json, full_values=args.full_values))
        writer = None
        if out is not None:
            writer = stack.enter_context(plan_writer(out, vendor=settings.vendor, app=settings.app_scope()))

        def planned(plan: GroupPlan, result: GroupResult) -> None:
            view.group_planned(plan, result)
            if writer is not None and not plan.in_sync and result.desired_digest is not None:
                writer.group(plan, result.desired_digest)

        signals = stack.enter_context(StopSignals(settings.grace_period_s, _notices(args)))
        report = await stoppable(
            signals,
            reconcile(
                settings, dry_run=True, on_plan=planned, signals=signals, terminal=args.terminal, observers=(view,)
            ),
        )
        if writer is not None:
            writer.discard = report is None or report.status in ("failed", "interrupted")
        if report is None:
            return signals.exit_code(1), None
        view.write(report, args.stdout)
    saved = None if writer is None or writer.discard else writer.groups
    if args.detailed_exitcode:
        return signals.exit_code(detailed_exit_code(report)), saved
    return signals.exit_code(0 if report.status != "failed" else 1), saved


async def cmd_apply(settings: Settings, args: argparse.Namespace) -> int:
    checks = {"vendor": settings.vendor, "app": settings.app_scope(), "max_age_s": args.max_plan_age * 3600}
    if match := re.fullmatch(r"plan:(\d+)", args.plan):
        timeouts = DbTimeouts(settings.db_connect_timeout_s, settings.db_statement_timeout_s)
        async with PgStore.open(
            settings.require_database(), settings.vendor, timeouts, schema=settings.schema
        ) as store:
            body = await store.saved_plan(int(match[1]))
        if body is None:
            raise ConfigError(f"{args.plan}: no such saved plan")
        saved = parse_plan(body, args.plan, **checks)
    else:
        saved = load_plan(args.plan, **checks)
    if not saved.groups:
        print(f"plan {args.plan}: nothing to change")
        return 0
    return await _run(settings, args, saved)


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    return await _run(settings, args)


async def _run(settings: Settings, args: argparse.Namespace, planned: SavedPlan | None = None) -> int:
    """A run, or (``planned``) an apply or a revert of its groups alone (those of them
    ``--group`` names, if it names any: a canary); its summary; its exit code."""
    if planned is not None:
        if outside := [g for g in settings.targets if g not in planned.groups]:
            raise ConfigError(f"--group: {len(outside)} not in {planned.source}: {', '.join(map(quote, outside[:10]))}")
        targets = settings.targets or tuple(sorted(planned.groups))
        settings = replace(settings, targets=targets, target_filter=None)
    with StopSignals(settings.grace_period_s, _notices(args)) as signals:
        report = await stoppable(
            signals, reconcile(settings, dry_run=False, signals=signals, terminal=args.terminal, planned=planned)
        )
    if report is None:
        return signals.exit_code(1)
    print_summary(report, args.stdout, as_json=args.json)
    return signals.exit_code(report.exit_code)


async def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    timeouts = DbTimeouts(settings.db_connect_timeout_s, settings.db_statement_timeout_s)
    async with PgStore.open(settings.require_database(), timeouts=timeouts, schema=settings.schema) as store:
        await store.check_schema()
        status = await store.status(runs=args.runs, groups=args.groups)
    print_status(status, args.stdout, as_json=args.json)
    return 0


async def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from syncer.checklist import as_json, exit_code, render
    from syncer.preflight import preflight

    items = await preflight(settings, canary=args.canary)
    if args.json:
        print(json.dumps(as_json(items), ensure_ascii=False))
    else:
        for text, style in render(f"syncer check: {settings.app_scope()}, database schema {settings.schema!r}", items):
            args.stdout.line(text, style)
    return exit_code(items)


async def cmd_revert(settings: Settings, args: argparse.Namespace) -> int:
    vendor = make_vendor(settings)  # its client is not opened: it only makes the plan
    timeouts = DbTimeouts(settings.db_connect_timeout_s, settings.db_statement_timeout_s)
    async with PgStore.open(settings.require_database(), vendor.name, timeouts, schema=settings.schema) as store:
        await store.check_schema()
        written = await store.run_changes(args.run_id)
    saved = revert_plan(
        written, vendor.plan_of_changes, vendor=vendor.name, app=settings.app_scope(), run_id=args.run_id
    )
    plans = saved.groups
    if not plans:
        print(f"run {args.run_id} journaled no change for {vendor.name}: nothing to revert")
        return 0
    if args.plan:
        print(f"revert of run {args.run_id}: {len(plans)} groups, each written back where it holds what the run wrote")
        for planned in plans.values():
            for line in group_lines(planned.plan):
                args.stdout.plan_line(line)
        return 0
    return await _run(settings, args, saved)


async def cmd_history(settings: Settings, args: argparse.Namespace) -> int:
    vendor = settings.vendor
    timeouts = DbTimeouts(settings.db_connect_timeout_s, settings.db_statement_timeout_s)
    async with PgStore.open(settings.require_database(), vendor, timeouts, schema=settings.schema) as store:
        await store.check_schema()
        entries = await store.history(args.group_id, args.limit)
    print_history(args.group_id, entries, args.stdout, as_json=args.json)
    return 0


async def cmd_prune(settings: Settings, args: argparse.Namespace) -> int:
    days = settings.journal_retention_days
    timeouts = DbTimeouts(settings.db_connect_timeout_s, settings.db_statement_timeout_s)
    async with PgStore.open(settings.require_database(), timeouts=timeouts, schema=settings.schema) as store:
        await store.check_schema()
        gone = await store.prune_journal(days)
    print(f"pruned {gone} change-journal entries and saved plans older than {days:g} days")
    return 0


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main`` on uvloop where it is installed (less CPU per call), else on asyncio's own loop."""
    # A run allocates a few short-lived containers per group (rows, answers) and almost never a
    # reference cycle: collect the young generation less often, and never rescan what the
    # imports left behind.
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(sys.argv[1:] if argv is None else list(argv))
        sys.stdout.flush()  # here, where a reader gone is caught, not at exit
        return code
    except KeyboardInterrupt:
        # Ctrl-C before the run's own handlers are in place (while importing or starting up).
        return 130
    except BrokenPipeError:
        # The reader went away (`syncer plan --json | head`): nothing more to say, to anyone.
        # Python would complain of the pipe once more at exit unless stdout is pointed elsewhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _main(argv: list[str]) -> int:
    try:
        args = build_parser(next((a for a in argv if not a.startswith("-")), None)).parse_args(argv)
        handler: Handler = args.handler
        settings = build_settings(args)
        args.stdout = Output(sys.stdout, settings.color)
        # On a terminal, log lines and the progress bar share stderr without mixing.
        color = use_color(settings.color, sys.stderr, os.environ)
        args.terminal = StatusLine(sys.stderr, color=color) if sys.stderr.isatty() else None
        configure_logging(settings.log_level, settings.log_format, stream=args.terminal, color=settings.color)
        return _run_loop(handler(settings, args))
    except SyncerError as exc:
        print(f"syncer: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        # A bug: one line, not a traceback (SYNCER_LOG_LEVEL=debug shows it).
        print(f"syncer: internal error: {type(exc).__name__}: {clip(str(exc))}", file=sys.stderr)
        if os.environ.get("SYNCER_LOG_LEVEL") == "debug":
            traceback.print_exc()
        return 1
