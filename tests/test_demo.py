"""The README's demo command works: a private Postgres, the emulator, plan, run, a quiet re-run."""

from __future__ import annotations

import asyncio
import sys

from .helpers import summary_line


async def test_demo_runs_end_to_end_and_the_second_run_writes_nothing() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "syncer",
        "demo",
        "--groups",
        "400",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 180)
    text = out.decode()
    assert process.returncode == 0, err.decode()[-2000:]
    assert "== syncer plan" in text and "== syncer run ==" in text
    assert "second run: 0 write calls, 8 get_group_info calls for 400 groups" in text
    assert summary_line(text, "rejected")[0] == 4
