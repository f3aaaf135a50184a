"""The benchmark: syncer against its floor, the vendor's rate limits.

    .venv/bin/python bench/bench.py                 # every scenario (about 20 minutes)
    .venv/bin/python bench/bench.py --only main     # one scenario by name
    .venv/bin/python bench/bench.py --only "own cost"   # the worker's own CPU per 10,000 groups

Each scenario seeds Postgres (an embedded one unless SYNCER_BENCH_DATABASE_URL names a server)
and an emulator in a process of its own. It brings syncer's records up to date, as an earlier
run would have (except in the "first run" row). Then it changes M base profiles and A attribute
sets in the desired table and times `syncer run` as a user runs it: a process of its own. For a
run over N groups, the floor is max(ceil(N/50), M, A) / 200 seconds, since each API command
has its own budget of 200 calls/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.naive import naive_sync  # noqa: E402
from syncer.db.store import PgStore  # noqa: E402
from syncer.embedded import embedded_postgres, scratch_database  # noqa: E402
from syncer.emulator.process import RemoteEmulator, emulator_process  # noqa: E402
from syncer.emulator.state import max_in_window  # noqa: E402
from syncer.logs import configure_logging  # noqa: E402
from syncer.pipeline import Reconciler  # noqa: E402
from syncer.settings import Settings  # noqa: E402
from syncer.vendors import desired_setups, make_vendor  # noqa: E402

LIMIT = 200
T = TypeVar("T")

# The desired rows, generated in SQL so that a million cost no Python memory. They match
# syncer.tencent.seeding.desired_group(i), which the emulator's synthetic groups are made from.
SEED_SQL = """
INSERT INTO desired_group_profiles (group_id, name, introduction, notification, face_url, max_member_num,
    apply_join_option, invite_join_option, mute_all_member, app_defined_data, group_attrs)
SELECT 'grp-' || lpad(i::text, 7, '0'), 'Team ' || i, 'The group for team ' || i || '.', 'Be kind.',
       'https://cdn.example.com/groups/' || i || '.png', 2000, 'NeedPermission', 'FreeAccess', false,
       jsonb_build_object('tier', CASE WHEN i % 3 = 0 THEN 'silver' ELSE 'gold' END),
       CASE WHEN $2 THEN jsonb_build_object('topic', 'topic-' || (i % 17), 'lang', 'en') END
FROM generate_series(0, $1 - 1) AS i
"""
# Evenly spread changes: M renames and A new attribute sets.
CHANGE_BASE_SQL = """
UPDATE desired_group_profiles SET name = name || ' v2'
WHERE substr(group_id, 5)::int % $2 = 0 AND substr(group_id, 5)::int / $2 < $1
"""
CHANGE_ATTRS_SQL = """
UPDATE desired_group_profiles SET group_attrs = group_attrs || '{"lang": "de"}'
WHERE (substr(group_id, 5)::int + 1) % $2 = 0 AND substr(group_id, 5)::int / $2 < $1
"""


@dataclass
class Scenario:
    name: str
    n: int
    m: int = 0
    a: int = 0
    latency_ms: float = 20.0
    attrs: bool = True  # manage group attributes
    # An earlier run has recorded every group (its attribute fingerprints, its digests), as in a
    # routine scheduled run. Without: the first run ever, every group looked at in full.
    earlier_run: bool = True
    limit: int = LIMIT
    naive: bool = False
    apply: bool = False  # timed: `syncer apply` of a plan saved (untimed) by `syncer plan --out`
    note: str = ""


SCENARIOS = [
    Scenario("main", 12_000, 6_000, 3_000, note="the target: ≤ 1.05 × floor, no throttling"),
    Scenario("no-op", 12_000, note="everything in sync: ceil(N/50) reads only"),
    Scenario("apply", 12_000, 6_000, 3_000, apply=True, note="main's changes, planned, then applied: ≤ 1.05 × floor"),
    Scenario("far (300 ms)", 12_000, 6_000, 3_000, latency_ms=300, note="a worker far from the vendor"),
    Scenario("naive", 1_200, 600, 300, naive=True, note="one read per group, one call at a time"),
    Scenario(
        "cpu, first run",
        100_000,
        latency_ms=0,
        attrs=False,
        limit=100_000,
        earlier_run=False,
        note="the worker's own cost of a first run: every group validated, diffed and recorded in full",
    ),
    Scenario("cpu, limits raised", 100_000, latency_ms=0, attrs=False, limit=100_000, note="the worker's own cost"),
    Scenario("memory 100k", 100_000, latency_ms=0, attrs=False, limit=100_000, note="no-op, peak RSS"),
    Scenario("memory 1M", 1_000_000, latency_ms=0, attrs=False, limit=100_000, note="no-op, peak RSS"),
]


@dataclass
class Result:
    scenario: Scenario
    wall_s: float
    calls: dict[str, int]
    rate: dict[str, float]
    peak: dict[str, int]  # most arrivals at the emulator in any sliding second
    sent_peak: dict[str, int]  # most sends by the worker in any sliding second (its own count)
    throttled: int
    rss_mb: float
    cpu_s: float
    exit_code: int

    @property
    def floor_s(self) -> float:
        s = self.scenario
        return max(math.ceil(s.n / 50), s.m, s.a) / s.limit


async def prepare(db: str, remote: RemoteEmulator, s: Scenario) -> None:
    async with PgStore.open(db) as store:
        await store.migrate(desired_setups(Settings()))
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(SEED_SQL, s.n, s.attrs)
    finally:
        await conn.close()
    if s.earlier_run:
        # An earlier run recorded every group: fast, with the limits out of the way.
        await remote.post("config", {"rate_limit": 100_000, "latency_s": 0})
        settings = remote.settings(db, rate_limit=100_000)
        vendor = make_vendor(settings)
        async with PgStore.open(db, vendor.name) as store, vendor.client:
            report = await Reconciler(settings, store, vendor).run()
        assert report.exit_code == 0, report
        await remote.post("config", {"rate_limit": s.limit, "latency_s": s.latency_ms / 1000})
    conn = await asyncpg.connect(db)
    try:
        if s.m:
            await conn.execute(CHANGE_BASE_SQL, s.m, s.n // s.m)
        if s.a:
            await conn.execute(CHANGE_ATTRS_SQL, s.a, s.n // s.a)
    finally:
        await conn.close()
    await remote.post("reset-log")
    await asyncio.sleep(1.1)  # let the emulator's window of the set-up run pass


async def timed_script(db: str, remote: RemoteEmulator, *options: str) -> float:
    """CPU seconds of one run of bench/script.py, the hand-written script a first run is priced against."""
    sdkappid, key = remote.settings(db).tencent.credentials()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "script.py"),
        db,
        remote.base_url,
        str(sdkappid),
        key,
        *options,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0 or out.strip() != b"0":
        raise RuntimeError(f"bench/script.py exited {process.returncode}, wrote {out!r}: {err.decode()[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _env(db: str, remote: RemoteEmulator) -> dict[str, str]:
    return os.environ | {
        "SYNCER_DATABASE_URL": db,
        "TENCENT_IM_SDKAPPID": str(remote.settings(db).tencent.sdkappid),
        "TENCENT_IM_SECRET_KEY": remote.settings(db).tencent.credentials()[1],
        "TENCENT_IM_BASE_URL": remote.base_url,
        "SYNCER_LOG_LEVEL": "warning",
    }


async def saved_plan(db: str, remote: RemoteEmulator, s: Scenario, path: str) -> None:
    """`syncer plan --out path`, untimed; then the emulator's window of its reads passes."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "syncer", "plan", "--out", path, "--rate-limit", str(s.limit)),
        env=_env(db, remote),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{s.name}: syncer plan exited {process.returncode}: {err.decode()[-2000:]}")
    await remote.post("reset-log")
    await asyncio.sleep(1.1)


async def timed_run(
    db: str, remote: RemoteEmulator, s: Scenario, verb: tuple[str, ...] = ("run",)
) -> tuple[float, int, float, float, dict[str, int]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "syncer", *verb, "--json", "--rate-limit", str(s.limit)),
        env=_env(db, remote),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    sampling = asyncio.create_task(peak_memory_mb(process.pid))
    out, err = await process.communicate()
    wall = time.monotonic() - started
    peak_mb = await sampling
    totals = json.loads(out.decode().strip().splitlines()[-1])["totals"]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode not in (0, 2):
        raise RuntimeError(f"{s.name}: syncer {verb[0]} exited {process.returncode}: {err.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, process.returncode or 0, peak_mb, cpu, totals["peak_sends_per_second"]


async def peak_memory_mb(pid: int, every_s: float = 0.02) -> float:
    """The worker's own peak resident memory, sampled from its VmHWM (a high-water mark, so the
    last reading holds every earlier peak) until it exits. Not ru_maxrss: a waited child's
    counts the parent's memory too, from before the exec."""
    status = Path(f"/proc/{pid}/status")
    peak_kb = 0
    while True:
        try:
            text = status.read_text()  # noqa: ASYNC240 - /proc answers from memory, at once
        except OSError:
            break
        if "VmHWM:" not in text:
            break  # exited, not yet waited for
        peak_kb = max(peak_kb, int(text.split("VmHWM:")[1].split()[0]))
        await asyncio.sleep(every_s)
    return peak_kb / 1024 if peak_kb else float("nan")


async def measure(server_url: str, s: Scenario) -> Result:
    args = ["--latency-ms", str(s.latency_ms), "--rate-limit", str(s.limit), "--synthetic-groups", str(s.n)]
    async with scratch_database(server_url, "syncer_bench") as db, emulator_process(*args) as remote:
        if s.naive:
            await prepare(db, remote, s)
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.monotonic()
            await naive_sync(db, remote.base_url)
            wall = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            exit_code, rss = 0, float("nan")
            sent_peak: dict[str, int] = {}
        elif s.apply:
            await prepare(db, remote, s)
            with tempfile.TemporaryDirectory() as tmp:
                path = str(Path(tmp) / "bench.plan")
                await saved_plan(db, remote, s, path)
                wall, exit_code, rss, cpu, sent_peak = await timed_run(db, remote, s, ("apply", path))
        else:
            await prepare(db, remote, s)
            wall, exit_code, rss, cpu, sent_peak = await timed_run(db, remote, s)
        log = await remote.get("log")
    times: dict[str, list[float]] = defaultdict(list)
    throttled = 0
    for record in log:
        times[record["command"]].append(record["t"])
        throttled += record["code"] in (60007, 60008, 60011, 60018, 60019, 10006, 10049)
    calls = {c: len(ts) for c, ts in times.items()}
    rate = {c: len(ts) / max(ts[-1] - ts[0], 1e-9) if len(ts) > LIMIT else float("nan") for c, ts in times.items()}
    peak = {c: max_in_window(ts) for c, ts in times.items()}
    return Result(s, wall, calls, rate, peak, sent_peak, throttled, rss, cpu, exit_code)


def _short(command: str) -> str:
    return {
        "get_group_info": "info",
        "get_group_attr": "attr-get",
        "modify_group_base_info": "modify",
        "set_group_attr": "attr-set",
        "delete_group_attr": "attr-del",
    }.get(command, command)


def render(results: list[Result]) -> str:
    head = (
        "| scenario | N | M | A | latency | wall s | floor s | ratio | calls/s per command | "
        "max in any 1 s: sent (worker) | arrived (emulator) | throttled | peak RSS MB | CPU s | CPU s / 10k groups |"
    )
    lines = [head, "|" + " --- |" * 15]
    for r in results:
        s = r.scenario
        rates = ", ".join(f"{_short(c)} {v:.1f}" for c, v in sorted(r.rate.items()) if not math.isnan(v)) or "—"
        peaks = ", ".join(f"{_short(c)} {v}" for c, v in sorted(r.peak.items()))
        sent = ", ".join(f"{_short(c)} {v}" for c, v in sorted(r.sent_peak.items()) if v) or "—"
        lines.append(
            f"| {s.name} | {s.n:,} | {s.m:,} | {s.a:,} | {s.latency_ms:g} ms | {r.wall_s:.2f} | {r.floor_s:.2f} | "
            f"{r.wall_s / r.floor_s:.3f} | {rates} | {sent} | {peaks} | {r.throttled} | {r.rss_mb:.0f} | "
            f"{r.cpu_s:.2f} | {r.cpu_s / s.n * 10_000:.2f} |"
        )
    return "\n".join(lines)


# The worker's own cost: no-op runs (every group as last seen in line) at two sizes, each run
# several times; the difference of the medians is what further groups cost, start-up and
# connecting cancelling out. CPU seconds on a shared machine vary by ±20 % from one run to the
# next, hence the repeats. Measured twice: with the limits raised (what the worker can drive on
# its own), and at the vendor's pace, 200 reads/s answered after 20 ms, where every answer and
# every wait for the limit wakes an idle worker.
# The third row is a first run (no records: every group read in full, validated, diffed and
# recorded), what a team pays once, or after re-sharding; the last two, bench/script.py on the
# same groups (on asyncio's loop, and on uvloop as syncer runs), what a first run is priced against.
OWN_COST = (
    ("limits raised", 100_000, 0.0, (20_000, 200_000), 5, "routine"),
    ("at 200 reads/s", LIMIT, 20.0, (20_000, 120_000), 3, "routine"),
    ("first run, limits raised", 100_000, 0.0, (20_000, 100_000), 5, "first"),
    ("bench/script.py, limits raised", 100_000, 0.0, (20_000, 100_000), 5, "script"),
    ("bench/script.py on uvloop", 100_000, 0.0, (20_000, 100_000), 5, "script --uvloop"),
)


async def own_cost_runs(server_url: str, n: int, limit: int, latency_ms: float, repeats: int, kind: str) -> list[float]:
    """CPU seconds of ``repeats`` no-op runs over ``n`` groups: ``kind`` "routine" (every group
    recorded in line), "first" (no records), or "script" and its options (bench/script.py)."""
    routine = kind == "routine"
    s = Scenario(f"own cost {n}", n, latency_ms=latency_ms, attrs=False, limit=limit, earlier_run=routine)
    args = ["--latency-ms", str(latency_ms), "--rate-limit", str(limit), "--synthetic-groups", str(n)]
    runs = []
    async with scratch_database(server_url, "syncer_bench") as db, emulator_process(*args) as remote:
        await prepare(db, remote, s)
        for _ in range(repeats):
            if kind == "first":
                conn = await asyncpg.connect(db)
                try:
                    await conn.execute("TRUNCATE group_sync_state, sync_runs")
                finally:
                    await conn.close()
            await remote.post("reset-log")
            await asyncio.sleep(1.1)  # the emulator's window of the last run passes
            if kind.startswith("script"):
                exit_code, cpu = 0, await timed_script(db, remote, *kind.split()[1:])
            else:
                _, exit_code, _, cpu, _ = await timed_run(db, remote, s)
            reads = sum(1 for record in await remote.get("log") if record["command"] == "get_group_info")
            if exit_code != 0 or reads != math.ceil(n / 50):
                raise RuntimeError(f"own cost: a no-op run over {n} groups exited {exit_code} after {reads} reads")
            runs.append(cpu)
    return runs


async def _own_cost(server_url: str, first_runs_only: bool) -> str:
    lines = []
    for label, limit, latency_ms, (small, large), repeats, kind in OWN_COST:
        if first_runs_only and kind == "routine":
            continue
        cpu_small = await own_cost_runs(server_url, small, limit, latency_ms, repeats, kind)
        cpu_large = await own_cost_runs(server_url, large, limit, latency_ms, repeats, kind)
        per_10k = (statistics.median(cpu_large) - statistics.median(cpu_small)) / (large - small) * 10_000
        fixed = statistics.median(cpu_small) - per_10k * small / 10_000
        reads_per_cpu_s = 200 / per_10k  # 10,000 groups are 200 reads
        lines.append(
            f"| {label} | {per_10k:.3f} | {reads_per_cpu_s:.0f} | {per_10k:.1%} | **{1 / per_10k:.1f}×** | "
            f"{fixed:.2f} | {small:,}: {', '.join(f'{c:.2f}' for c in cpu_small)}; "
            f"{large:,}: {', '.join(f'{c:.2f}' for c in cpu_large)} |"
        )
    head = (
        "The worker's own cost of a no-op run: CPU seconds per further 10,000 groups (the median at the "
        "larger size less the median at the smaller), the get_group_info calls that makes per CPU-second, "
        "the share of a core at the vendor's 200 reads/s (10,000 groups/s), and the headroom that leaves.\n\n"
        "| no-op runs | CPU-s per 10k groups | reads per CPU-s | core at 200 reads/s | headroom | fixed CPU-s | "
        "each run's CPU-s |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    return "\n".join([head, *lines])


async def on_postgres(work: Callable[[str], Awaitable[T]]) -> T:
    """``work`` on the server SYNCER_BENCH_DATABASE_URL names, or on an embedded one."""
    configure_logging("warning", "json")
    server = os.environ.get("SYNCER_BENCH_DATABASE_URL")
    if server:
        return await work(server)
    with embedded_postgres() as url:
        return await work(url)


def machine() -> str:
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        platform.processor(),
    )
    mem = next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
    return f"{os.cpu_count()} cores ({cpu}), {int(mem) // 1024 // 1024} GiB, Python {platform.python_version()}"


async def run_one(name: str) -> Result:
    scenario = next(s for s in SCENARIOS if s.name == name)
    return await on_postgres(lambda server: measure(server, scenario))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only",
        action="append",
        help='scenario name, "own cost", or "first runs" (own cost: a first run and the script only); repeatable',
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--write", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    if args.child:
        result = asyncio.run(run_one(args.child))
        print(json.dumps({k: v for k, v in vars(result).items() if k != "scenario"}))
        return 0
    results = []
    for scenario in SCENARIOS:
        if args.only and scenario.name not in args.only:
            continue
        print(f"running {scenario.name} …", file=sys.stderr, flush=True)
        # One process per scenario, so that peak RSS is that scenario's own.
        done = asyncio.run(_child(scenario.name))
        results.append(Result(scenario, **done))
        print(render(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    table = render(results) if results else ""
    if not args.only or "own cost" in args.only or "first runs" in args.only:
        print("running own cost …", file=sys.stderr, flush=True)
        first_runs_only = bool(args.only) and "own cost" not in args.only
        own = asyncio.run(on_postgres(lambda server: _own_cost(server, first_runs_only)))
        table = (table + "\n\n" + own).strip()
    print(f"\nmachine: {machine()}\n\n{table}")
    notes = "\n".join(f"- {s.name}: {s.note}" for s in SCENARIOS if not args.only or s.name in args.only)
    if args.write:
        args.write.write_text(f"machine: {machine()}\n\n{table}\n\n{notes}\n")
    return 0


async def _child(name: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", name, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"scenario {name} failed")
    doc: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return doc


if __name__ == "__main__":
    raise SystemExit(main())
