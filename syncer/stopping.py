"""How a run obeys SIGTERM and SIGINT: gracefully while it sends, at once before, and never past
the grace period."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class StopSignals:
    """SIGTERM or SIGINT asks the run to stop; a second one exits at once.

    While the pipeline runs (``phase`` "running"), a stop is graceful: no new call, the calls in
    flight finish for up to the grace period, outcomes are recorded. In any other phase
    (connecting, taking the lock, waiting on Postgres) there is nothing to finish: the work is
    cancelled at once. Whatever the phase, the process is gone by the grace period plus
    ``_RECORDING_S``, under Kubernetes' kill.
    """

    _RECORDING_S = 8.0  # after the grace period: recording what finished, then a hard exit

    def __init__(self, grace_period_s: float, write: Callable[[str], object] | None = None) -> None:
        # Notices go where log lines go: above a progress bar on a terminal, never across it.
        self._write = write or sys.stderr.write
        self.stop = asyncio.Event()
        self.received: int | None = None
        self.phase = "starting"
        self._grace_period_s = grace_period_s
        self._main: asyncio.Task[Any] | None = None

    def __enter__(self) -> StopSignals:
        loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)

    def on_phase(self, phase: str) -> None:
        self.phase = phase

    def _on_signal(self, sig: int) -> None:
        name = signal.Signals(sig).name
        if self.stop.is_set():
            self._write(f"syncer: second {name}: exiting at once\n")
            os._exit(128 + sig)
        self.received = sig
        self.stop.set()
        loop = asyncio.get_running_loop()
        loop.call_later(self._grace_period_s + self._RECORDING_S, self._exit_now, sig)
        if self.phase == "running":
            self._write(
                f"syncer: {name}: finishing the calls in flight, then stopping (send it again to exit at once)\n"
            )
        elif self._main is not None:
            self._write(f"syncer: {name}: stopping (no vendor call was in flight)\n")
            self._main.cancel()

    def _exit_now(self, sig: int) -> None:
        self._write("syncer: still not stopped after the grace period: exiting at once\n")
        os._exit(128 + sig)

    def exit_code(self, otherwise: int) -> int:
        # The conventional 128 + signal number: 143 for SIGTERM, 130 for SIGINT.
        return 128 + self.received if self.received is not None else otherwise


async def stoppable(signals: StopSignals, work: Coroutine[Any, Any, T]) -> T | None:
    """``work``'s result, or None if a stop cancelled it before the run began."""
    try:
        return await work
    except asyncio.CancelledError:
        if signals.received is None:
            raise
        return None
