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
BAR_WIDTH = 40  # at most: narrower on a narrow terminal


class StatusLine:
    """A terminal stream with one status line kept below everything written to it, through rich
    (imported here only: a run off a terminal never loads it). Lines written while the status
    line shows are printed above it; it is cropped to the terminal's width as it is now, so it
    never wraps, and it leaves nothing behind when it goes."""

    def __init__(self, stream: TextIO, *, color: bool = True) -> None:
        from rich.console import Console
        from rich.live import Live

        self._stream = stream
        # ``color``: --color and NO_COLOR, as syncer/output.py decides; the log lines carry their own.
        self.console = Console(
            file=stream,
            force_terminal=True,
            color_system="auto" if color else None,
            highlight=False,
            emoji=False,
            soft_wrap=True,
        )
        self._live = Live(
            console=self.console, transient=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
        )
        self._active = False
        self._pending = ""

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def width(self) -> int:
        """The terminal's width now (it follows a resize)."""
        return self.console.width

    def write(self, text: str) -> int:
        from rich.text import Text

        self._pending += text
        if "\n" in self._pending:
            lines, _, self._pending = self._pending.rpartition("\n")
            if self._active:
                self.console.print(Text.from_ansi(lines))
            else:
                self._stream.write(lines + "\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def show(self, status: str) -> None:
        """Show ``status`` as the last line ("" takes it away)."""
        from rich.text import Text

        if not status:
            if self._active:
                self._live.stop()
                self._active = False
            return
        if not self._active:
            self._live.start()
            self._active = True
        self._live.update(Text(status, no_wrap=True, overflow="ellipsis"), refresh=True)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_bar(
    done: int, total: int | None, elapsed_s: float, failed: int = 0, rejected: int = 0, *, columns: int = 80
) -> str:
    """``[#########-------]  4,500/12,000 groups  37%  1,210/s  ETA 0:06  2 failed  1 rejected``,
    in at most ``columns`` characters: the bar takes what the figures leave, up to BAR_WIDTH."""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    parts = []
    if total:
        shown = min(done, total)
        parts.append(f"{shown:,}/{total:,} groups")
        parts.append(f"{100 * shown // total}%")
    else:
        parts.append(f"{done:,} groups")
    parts.append(f"{rate:,.0f}/s")
    if total and rate > 0 and done < total:
        parts.append(f"ETA {_duration((total - done) / rate)}")
    troubles = [f"{n:,} {what}" for n, what in ((failed, "failed"), (rejected, "rejected")) if n]
    parts += troubles or ["none failed"]
    text = "  ".join(parts)
    width = min(BAR_WIDTH, columns - len(text) - 4)
    if total and width >= 8:
        filled = round(width * min(done, total) / total)
        text = "[" + "#" * filled + "-" * (width - filled) + "]  " + text
    return text


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
        self.failed = 0
        self.rejected = 0  # rejected rows and groups the vendor does not know
        self._ticker: asyncio.Task[None] | None = None

    def run_started(self, report: RunReport, total: int | None) -> None:
        self.total = total
        self._started = self._clock()
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def group_finished(self, result: GroupResult) -> None:
        self.done += 1
        if result.outcome is Outcome.FAILED:
            self.failed += 1
        elif result.outcome in TROUBLED:
            self.rejected += 1

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
            columns = self._terminal.width
            self._terminal.show(render_bar(self.done, self.total, elapsed, self.failed, self.rejected, columns=columns))
            return
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if self.total and rate > 0 and self.done < self.total else None
        log.info(
            "progress",
            done=self.done,
            total=self.total,
            per_second=round(rate, 1),
            eta_s=None if eta is None else round(eta),
            failing=self.failed + self.rejected,
            failed=self.failed,
            rejected=self.rejected,
        )
