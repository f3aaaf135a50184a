"""What operators see: metrics pushed and scraped, log lines per format, progress, `syncer status`."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import json
import os
import pty
import re
import socket
import struct
import sys
import termios
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import aiohttp
import pyte
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from syncer.cli import reconcile
from syncer.db.store import PgStore
from syncer.emulator.server import Emulator
from syncer.errors import CredentialsError
from syncer.progress import StatusLine, render_bar
from syncer.settings import Secret
from syncer.thresholds import Threshold

from .helpers import fast, load_desired, seeded, settings_for, summary_line
from .pushgateway import pushgateway
from .test_cli import environment, syncer

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    """The one sample called ``name`` whose labels include ``labels``."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


async def _scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        return _parse(await resp.text())


async def test_a_run_push_adds_its_metrics_and_a_failed_run_never_overwrites_the_last_success(
    db: str, emulator: Emulator
) -> None:
    data = await seeded(db, emulator, 120, seed=31, invalid=2)
    async with pushgateway() as gateway:
        settings = settings_for(
            db, emulator, **fast(emulator), pushgateway_url=Secret(gateway.url), metrics_job="syncer-test"
        )
        report = await reconcile(settings, dry_run=False)
        assert report.status == "partial"  # the two invalid rows
        first = await _scrape(f"{gateway.url}/metrics")
        grouping = {"job": "syncer-test", "shard": "0-of-1", "vendor": "tencent"}
        calls = _value(first, "syncer_calls_total", command="get_group_info", code="0", **grouping)
        assert calls == report.calls["get_group_info"]
        assert _value(first, "syncer_groups_total", outcome="rejected", **grouping) == 2
        assert _value(first, "syncer_groups_total", outcome="updated") == report.outcomes["updated"]
        assert _value(first, "syncer_call_duration_seconds_count", command="get_group_info") == calls
        assert _value(first, "syncer_last_run_status", status="partial", mode="run") == 1
        assert _value(first, "syncer_run_groups") == 120
        assert _value(first, "syncer_last_success_timestamp_seconds") is None  # partial is not a success
        # Pushed as the run started, then with the rest at its end: not a run still going.
        started = _value(first, "syncer_run_started_timestamp_seconds", **grouping)
        finished = _value(first, "syncer_last_run_timestamp_seconds", **grouping)
        assert started is not None and finished is not None and started <= finished

        # The same two rejected rows within --max-rejected: a success, and still counted for an alert.
        tolerant = await reconcile(replace(settings, max_rejected=Threshold(count=2)), dry_run=False)
        assert (tolerant.status, tolerant.exit_code) == ("succeeded", 0)
        within = await _scrape(f"{gateway.url}/metrics")
        assert _value(within, "syncer_groups_total", outcome="rejected", **grouping) == 2
        assert _value(within, "syncer_last_run_status", status="succeeded", mode="run") == 1
        assert _value(within, "syncer_last_success_timestamp_seconds", **grouping) is not None

        emulator.config.group_faults = {}
        clean = [r for r in data.desired if r.group_id not in data.invalid]
        await _replace_desired(db, clean)
        ok = await reconcile(settings, dry_run=False)
        assert ok.status == "succeeded"
        second = await _scrape(f"{gateway.url}/metrics")
        success = _value(second, "syncer_last_success_timestamp_seconds", **grouping)
        assert success is not None and abs(success - time.time()) < 60
        assert _value(second, "syncer_groups_total", outcome="rejected") == 0  # the push replaced the family

        with pytest.raises(CredentialsError):
            await reconcile(
                replace(settings, tencent=replace(settings.tencent, secret_key=Secret("f" * 64))), dry_run=False
            )
        third = await _scrape(f"{gateway.url}/metrics")
        assert _value(third, "syncer_last_success_timestamp_seconds", **grouping) == success
        assert _value(third, "syncer_last_run_status", status="failed") == 1
        assert _value(third, "syncer_last_run_status", status="succeeded") is None
        # Each run pushes its start, then everything at its end: push-add, never a replace.
        assert [method for method, _ in gateway.pushes] == ["POST"] * 8


MONITORING = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes" / "monitoring"


async def test_every_metric_the_alerts_and_the_dashboard_use_is_exported_by_a_run(db: str, emulator: Emulator) -> None:
    monitoring = MONITORING
    rules = yaml.safe_load((monitoring / "prometheusrule.yaml").read_text())
    queries = [rule["expr"] for group in rules["spec"]["groups"] for rule in group["rules"]]
    dashboard = json.loads((monitoring / "syncer-dashboard.json").read_text())
    queries += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for query in queries for name in re.findall(r"\bsyncer_[a-z_]+", query)}
    assert len(used) >= 8, used

    # A run pushed to a Pushgateway (the CronJob) and one scraped while it runs (the Jobs).
    await seeded(db, emulator, 60, seed=33)
    async with pushgateway() as gateway:
        await reconcile(
            settings_for(db, emulator, **fast(emulator), pushgateway_url=Secret(gateway.url)), dry_run=False
        )
        pushed = {name for name, _ in await _scrape(f"{gateway.url}/metrics")}
    emulator.config.latency_s = 1.0
    port = _free_port()
    settings = settings_for(db, emulator, **fast(emulator), metrics_port=port, metrics_host="127.0.0.1")
    arrived = emulator.arrivals
    run = asyncio.create_task(reconcile(replace(settings, check_attrs=True), dry_run=False))
    async with asyncio.timeout(30):
        # The second call leaves once the first is answered: the others are a second from theirs.
        await emulator.wait_for_calls(arrived + 2)
    assert not run.done()
    scraped = {name for name, _ in await _scrape(f"http://127.0.0.1:{port}/metrics")}
    await run
    assert used <= pushed, sorted(used - pushed)
    # What a scrape lacks mid-run is only what a run says at its end.
    at_the_end = {
        "syncer_last_success_timestamp_seconds",
        "syncer_last_run_status",
        "syncer_last_run_timestamp_seconds",
    }
    assert used - at_the_end <= scraped, sorted(used - at_the_end - scraped)


async def _replace_desired(db: str, rows: Iterable[object]) -> None:
    import asyncpg

    conn = await asyncpg.connect(db)
    try:
        await conn.execute("TRUNCATE desired_group_profiles")
    finally:
        await conn.close()
    await load_desired(db, list(rows))  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_long_run_serves_metrics_while_it_runs_and_stops_serving_after(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 300, seed=32)
    emulator.config.latency_s = 0.2
    port = _free_port()
    settings = settings_for(db, emulator, **fast(emulator), metrics_port=port, metrics_host="127.0.0.1")
    run = asyncio.create_task(reconcile(settings, dry_run=False))
    async with asyncio.timeout(30):
        await emulator.wait_for_calls(3)  # the first call has been answered: the gate let others go
    during = await _scrape(f"http://127.0.0.1:{port}/metrics")
    async with PgStore.open(db) as store:
        assert [r.status for r in (await store.status()).runs] == ["running"]  # alive: its lock is held
    assert not run.done()
    assert _value(during, "syncer_run_groups") == 300
    assert (_value(during, "syncer_calls_total", command="get_group_info", code="0") or 0) >= 1
    report = await run
    assert report.exit_code == 0
    with pytest.raises(aiohttp.ClientConnectionError):
        await _scrape(f"http://127.0.0.1:{port}/metrics")


async def test_json_logs_off_a_terminal_name_the_run_and_the_group_with_one_summary(
    db: str, emulator: Emulator
) -> None:
    await seeded(db, emulator, 200, seed=33, invalid=3)
    emulator.config.latency_s = 0.05
    env = environment(db, emulator) | {"SYNCER_PROGRESS_INTERVAL_S": "0.2"}
    result = await syncer("run", "--log-level", "debug", "--rate-limit", "100", env=env)
    assert result.code == 2, result.err
    lines = [json.loads(line) for line in result.err.splitlines()]  # every line is one JSON document
    assert all({"event", "level", "timestamp"} <= set(line) for line in lines)
    about_groups = [line for line in lines if "group_id" in line]
    assert len({line["group_id"] for line in about_groups if line["event"] == "group_rejected"}) == 3
    run_id = next(line["run_id"] for line in lines if line["event"] == "run_started")
    assert all(line.get("run_id") == run_id for line in about_groups)
    summaries = [line for line in lines if line["event"] == "run_finished"]
    assert len(summaries) == 1 and summaries[0]["rejected"] == 3 and summaries[0]["status"] == "partial"
    progress = [line for line in lines if line["event"] == "progress"]
    assert progress and all(line["total"] == 200 and line["run_id"] == run_id for line in progress)
    assert progress[-1]["done"] >= progress[0]["done"]


async def test_console_logs_when_asked(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 30, seed=34, invalid=1)
    result = await syncer("run", "--log-format", "console", env=environment(db, emulator))
    assert result.code == 2
    assert "run_finished" in result.err and "group_rejected" in result.err and "run_id=" in result.err
    assert not any(line.startswith("{") for line in result.err.splitlines())


async def _in_a_terminal(
    *args: str, env: dict[str, str], columns: int, stdout_too: bool = False, resize: tuple[bytes, int] | None = None
) -> tuple[int, list[bytes], str]:
    """`syncer ARGS` with standard error (and standard output, if ``stdout_too``) on a
    pseudo-terminal ``columns`` wide: its exit code, what it wrote there (chunk by chunk, as it
    came) and its standard output when that was a pipe. ``resize``: once a chunk holds these
    bytes, the terminal becomes this many columns wide (an empty chunk marks the moment)."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "syncer",
        *args,
        # The size is the terminal's own, as in a person's shell: no COLUMNS or LINES (pytest-xdist sets them).
        env={
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SYNCER_", "TENCENT_IM_", "NO_COLOR", "COLUMNS", "LINES"))
        }
        | env,
        stdout=secondary if stdout_too else asyncio.subprocess.PIPE,
        stderr=secondary,
    )
    os.close(secondary)

    def read_terminal() -> list[bytes]:
        chunks = []
        pending = resize
        with contextlib.suppress(OSError):  # EIO once the child has closed its side
            while chunk := os.read(primary, 65536):
                chunks.append(chunk)
                if pending is not None and pending[0] in chunk:
                    fcntl.ioctl(primary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, pending[1], 0, 0))
                    chunks.append(b"")
                    pending = None
        return chunks

    screen_task = asyncio.create_task(asyncio.to_thread(read_terminal))
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    chunks = await asyncio.wait_for(screen_task, 30)
    os.close(primary)
    assert process.returncode is not None
    return process.returncode, chunks, (out or b"").decode()


async def _on_a_terminal(
    db: str, emulator: Emulator, columns: int, extra_env: dict[str, str] | None = None
) -> tuple[int, list[bytes], str]:
    """`syncer run` with standard error on a pseudo-terminal."""
    env = environment(db, emulator) | (extra_env or {})
    return await _in_a_terminal("run", "--rate-limit", "200", env=env, columns=columns)


@pytest.mark.parametrize("columns", [80, 160])
async def test_on_a_terminal_the_bar_keeps_to_one_line_under_the_logs_and_leaves_nothing_behind(
    db: str, emulator: Emulator, columns: int
) -> None:
    await seeded(db, emulator, 400, seed=35, invalid=1)
    emulator.config.latency_s = 0.1
    code, chunks, out = await _on_a_terminal(db, emulator, columns)
    assert code == 0  # one rejected row of 400: within the default threshold
    screen = pyte.Screen(columns, 24)
    stream = pyte.ByteStream(screen)
    bars = 0
    for chunk in chunks:  # the screen as a person saw it, after each write
        stream.feed(chunk)
        showing = [line for line in screen.display if "/400 groups" in line]
        assert len(showing) <= 1, showing  # one bar, never a stale copy above it
        for line in showing:
            bars += 1
            assert "/s" in line and line.rstrip().endswith(("failed", "rejected")), line  # whole, on one line
    assert bars > 0
    assert re.search(rb"\x1b\[[0-9;]*m", b"".join(chunks))  # coloured, unless NO_COLOR (below)
    final = "\n".join(screen.display)
    assert "/400 groups" not in final  # gone once the run ended
    assert "run_finished" in final and "group_rejected" in final and '"event"' not in final
    assert summary_line(out, "groups read")[0] == 400


async def test_no_color_means_no_colour_on_a_terminal(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 100, seed=36, invalid=1)
    plain = b"".join((await _on_a_terminal(db, emulator, 120, {"NO_COLOR": "1"}))[1])
    assert not re.search(rb"\x1b\[[0-9;]*m", plain), plain[:400]
    assert b"run_finished" in plain


async def test_the_bar_follows_a_resize(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 400, seed=37)
    emulator.config.latency_s = 0.1
    env = environment(db, emulator)
    code, chunks, _ = await _in_a_terminal("run", "--rate-limit", "200", env=env, columns=160, resize=(b"/400", 60))
    assert code == 0 and b"" in chunks  # resized while the bar showed

    def bars(written: list[bytes]) -> list[str]:
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(written).decode())
        return [part.rstrip() for part in re.split(r"[\r\n]", text) if "/400 groups" in part]

    before, after = bars(chunks[: chunks.index(b"")]), bars(chunks[chunks.index(b"") :])
    assert any(len(bar) > 60 for bar in before), before  # drawn for 160 columns
    # The first after may have been drawn before syncer saw the new size; the rest are laid out
    # anew for it, whole (not a wide bar cut at the edge).
    assert len(after) >= 2 and all(len(bar) <= 60 and bar.endswith("failed") for bar in after[1:]), after


def test_the_bar_shows_done_of_total_rate_eta_failed_and_rejected_apart_and_fits() -> None:
    assert render_bar(4_500, 12_000, 3.0, 2, 1, columns=90) == (
        "[" + "#" * 8 + "-" * 13 + "]  4,500/12,000 groups  37%  1,500/s  ETA 0:05  2 failed  1 rejected"
    )
    wide = render_bar(12_000, 12_000, 10.0, columns=160)
    assert wide == "[" + "#" * 40 + "]  12,000/12,000 groups  100%  1,200/s  none failed"
    assert render_bar(700, None, 2.0) == "700 groups  350/s  none failed"  # incremental: no total
    for columns in (40, 60, 80, 120):
        assert len(render_bar(4_500, 12_000, 3.0, 2, 1, columns=columns)) <= max(columns, 70)


def test_log_lines_go_above_the_bar_and_it_leaves_nothing_behind() -> None:
    written = io.StringIO()
    terminal = StatusLine(written)
    terminal.show("[##--] 2/4 groups")
    print("a log line", file=terminal)  # print writes the text, then "\n"
    terminal.show("[####] 4/4 groups")
    screen = pyte.Screen(80, 6)
    pyte.Stream(screen).feed(written.getvalue())
    assert [line.rstrip() for line in screen.display[:2]] == ["a log line", "[####] 4/4 groups"]
    terminal.show("")
    screen = pyte.Screen(80, 6)
    pyte.Stream(screen).feed(written.getvalue())
    assert [line.rstrip() for line in screen.display if line.strip()] == ["a log line"]


async def test_status_shows_the_last_runs_and_the_groups_out_of_line_with_their_errors(
    db: str, emulator: Emulator
) -> None:
    data = await seeded(db, emulator, 60, seed=36, invalid=2)
    victim = sorted(set(g.group_id for g in data.desired) - data.invalid)[5]
    emulator.config.group_faults = {victim: 10004}  # a permanent code: the group fails
    env = environment(db, emulator)
    assert (await syncer("run", env=env)).code == 2
    assert (await syncer("run", env=env)).code == 2

    table = await syncer("status", env=env)
    assert table.code == 0, table.err
    text = table.out
    assert text.index("last runs") < text.index("out of line")
    header = next(line for line in text.splitlines() if line.startswith("RUN"))
    assert header.split()[:5] == ["RUN", "VENDOR", "MODE", "SHARD", "STATUS"]
    assert "partial" in text and re.search(rf"{victim}\s+failed\s+10004\s+2\s", text), text
    assert all(re.search(rf"{re.escape(g)}\s+rejected\s+-", text) for g in data.invalid), text

    doc = json.loads((await syncer("status", "--json", "--runs", "1", env=env)).out)
    assert [r["status"] for r in doc["runs"]] == ["partial"] and doc["runs"][0]["shard"] == "0/1"
    troubled = {g["group_id"]: g for g in doc["troubled"]}
    assert set(troubled) == data.invalid | {victim}
    assert troubled[victim]["error_code"] == 10004 and troubled[victim]["attempts"] == 2
    assert all(troubled[g]["error_message"].startswith(f"group {g!r}: ") for g in data.invalid)
    assert doc["groups_by_outcome"]["tencent"]["failed"] == 1 and doc["groups_by_outcome"]["tencent"]["rejected"] == 2

    # On a terminal: aligned, coloured, fitted to the width, every message whole.
    for columns in (80, 160):
        code, chunks, _ = await _in_a_terminal("status", env=env, columns=columns, stdout_too=True)
        assert code == 0
        screen = pyte.Screen(columns, 60)
        pyte.ByteStream(screen).feed(b"".join(chunks))
        lines = [line.rstrip() for line in screen.display]
        top = next(n for n, line in enumerate(lines) if line.startswith("RUN"))
        for name in ("READ", "CHANGED", "FAILED"):  # numbers end under their top's end
            end = lines[top].index(name) + len(name)
            for row in lines[top + 1 : top + 3]:
                assert row[end - 1].isdigit() and row[end : end + 1] in ("", " "), (name, row)
        status_x = lines[top].index("STATUS")
        assert screen.buffer[top + 1][status_x].fg != "default"  # "partial", coloured
        assert ("VENDOR" in lines[top]) == (columns == 160)  # left out at 80 columns, and said so
        assert any("not shown at this width" in line for line in lines) == (columns == 80)
        error_x = next(line for line in lines if line.startswith("VENDOR")).index("ERROR")
        start = next(n for n, line in enumerate(lines) if line.startswith("VENDOR")) + 1
        cells: list[str] = []  # each troubled group's error, its wrapped lines joined
        for line in lines[start:]:
            if not line or line.startswith("("):
                break
            if line[:error_x].strip():
                cells.append("")
            cells[-1] = (cells[-1] + " " + line[error_x:]).strip()
        assert sorted(cells) == sorted(g["error_message"] for g in doc["troubled"])  # whole, not cut
        assert all(len(line) <= columns for line in lines)
        assert max(len(m) for m in cells) > 100  # a message the old table cut
    plain = b"".join((await _in_a_terminal("status", env=env | {"NO_COLOR": "1"}, columns=80, stdout_too=True))[1])
    assert b"\x1b" not in plain and b"REJECTED" in plain
