"""How far a run has got: a live bar on a terminal, a log line every few seconds elsewhere.

The bar lives on the terminal's last line. Log lines go through :class:`StatusLine`, which
takes the bar away before a line is written and puts it back after, so the two never mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

import structlog

from syncer.models import GroupResult, Outcome

if TYPE_CHECKING:
    from syncer.pipeline import RunReport

log = structlog.get_logger("syncer.progress")

TROUBLED = frozenset({Outcome.FAILED, Outcome.REJECTED, Outcome.NOT_FOUND})
BAR_REFRESH_S = 0.25
BAR_WIDTH = 24


class StatusLine:
    """A terminal stream with one status line kept below everything written to it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._status = ""
        self._shown = False

    def isatty(self) -> bool:
        return self._stream.isatty()

    def write(self, text: str) -> int:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._shown = False
        written = self._stream.write(text)
        if text.endswith("\n") and self._status:
            self._stream.write(self._status)
            self._shown = True
        return written

    def flush(self) -> None:
        self._stream.flush()

    def show(self, status: str) -> None:
        self._status = status
        self._stream.write("\r\x1b[K" + status)
        self._shown = bool(status)
        self._stream.flush()


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_bar(done: int, total: int | None, elapsed_s: float, troubled: int, width: int = BAR_WIDTH) -> str:
    """``[#########-----------]  4,500/12,000 groups  37%  1,210/s  ETA 0:06  2 failing``."""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    parts = []
    if total:
        shown = min(done, total)
        filled = round(width * shown / total)
        parts.append("[" + "#" * filled + "-" * (width - filled) + "]")
        parts.append(f"{shown:,}/{total:,} groups")
        parts.append(f"{100 * shown // total}%")
    else:
        parts.append(f"{done:,} groups")
    parts.append(f"{rate:,.0f}/s")
    if total and rate > 0 and done < total:
        parts.append(f"ETA {_duration((total - done) / rate)}")
    parts.append(f"{troubled:,} failing" if troubled else "none failing")
    return "  ".join(parts)


class Progress:
    """A RunObserver that shows the run's progress, as a bar (``style`` "bar") or log lines ("log")."""

    def __init__(
        self,
        style: str,
        *,
        terminal: StatusLine | None = None,
        interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if style == "bar" and terminal is None:
            raise ValueError("a progress bar needs a terminal")
        self._style = style
        self._terminal = terminal
        self._interval = BAR_REFRESH_S if style == "bar" else interval_s
        self._clock = clock
        self._started = clock()
        self.total: int | None = None
        self.done = 0
        self.troubled = 0
        self._ticker: asyncio.Task[None] | None = None

    def run_started(self, report: RunReport, total: int | None) -> None:
        self.total = total
        self._started = self._clock()
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def group_finished(self, result: GroupResult) -> None:
        self.done += 1
        if result.outcome in TROUBLED:
            self.troubled += 1

    def groups_unchanged(self, count: int) -> None:
        self.done += count

    def run_finished(self, report: RunReport) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._terminal is not None and self._style == "bar":
            self._terminal.show("")

    async def _tick(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(self._interval)
                self.show()

    def show(self) -> None:
        elapsed = self._clock() - self._started
        if self._style == "bar":
            assert self._terminal is not None
            self._terminal.show(render_bar(self.done, self.total, elapsed, self.troubled))
            return
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if self.total and rate > 0 and self.done < self.total else None
        log.info(
            "progress",
            done=self.done,
            total=self.total,
            per_second=round(rate, 1),
            eta_s=None if eta is None else round(eta),
            failing=self.troubled,
        )
