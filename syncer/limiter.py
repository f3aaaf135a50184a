"""An exact sliding-window rate limiter.

Why not a token bucket: aiolimiter's ``AsyncLimiter(200, 1)`` starts full and lets about 400 calls
through in the first second, and ``AsyncLimiter(1, 1/200)`` spaces calls evenly but loses 5-7 % of
the rate to event-loop wake-up lag. This limiter remembers the send times of the last calls: a call
may go only once the call ``limit`` places before it is at least ``period`` old. So no window of
``period`` ever holds more than ``limit`` calls, and lag delays a slot only once per period instead
of once per call (≈ ``limit / (period + lag)``).

A slot's time is when the request really left (the client marks it once the headers are on the
wire): opening a connection (a TLS handshake to the vendor takes 50-200 ms) would otherwise send a
burst late while calls a second later go at once on warm connections, and the vendor would see
more than the limit in one of its windows.

A second, finer window keeps a full second's budget from leaving in one burst (a burst reaches the
vendor spread out by queueing, and its tail would share a vendor window with the next second's
calls). It allows twice the pro-rata share (``2·limit/10`` per ``period/10``): it only smooths,
and in steady state the outer window binds, which costs the wake-up lag once per period instead
of once per tenth.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from types import TracebackType
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """The event loop's monotonic clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Slot:
    """One call's place in the windows. Its time is when the call really left: until
    :meth:`mark_sent`, a pending slot counts as sent "now", so it can never expire early."""

    __slots__ = ("sent_at",)

    def __init__(self, sent_at: float | None = None) -> None:
        self.sent_at = sent_at

    def mark_sent(self, now: float) -> None:
        if self.sent_at is None:
            self.sent_at = now

    def arrived_by(self, latest: float) -> None:
        """The call may have reached the vendor as late as ``latest`` (a slow answer says so):
        its place in the windows moves there, never earlier. A burst whose first calls were
        held up on the way (new connections, a busy vendor) then cannot share the vendor's
        window with the next second's calls on warm connections."""
        if self.sent_at is not None and latest > self.sent_at:
            self.sent_at = latest


# How long to wait before looking again when the slot that blocks is still pending.
PENDING_POLL_S = 0.002


class _Window:
    __slots__ = ("limit", "period", "slots")

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.slots: deque[Slot] = deque()

    def wait(self, now: float) -> float:
        slots = self.slots
        # Forget slots that left a full period ago, oldest first. A pending slot at the head
        # holds the rest back: conservative, never unsafe.
        while slots and slots[0].sent_at is not None and slots[0].sent_at + self.period <= now:
            slots.popleft()
        # Every slot still held is unexpired or stuck behind a pending head: fewer than `limit`
        # of them means fewer than `limit` calls in the last period.
        if len(slots) < self.limit:
            return 0.0
        head = slots[0]
        if head.sent_at is None:
            return PENDING_POLL_S
        # Once the head expires, at most len - 1 remain: then look again.
        return head.sent_at + self.period - now


class SlidingWindowLimiter:
    """At most ``limit`` calls in any window of ``period`` seconds of their send times; FIFO.

    ``burst_divisor`` > 1 adds the finer window of ``ceil(2 * limit / burst_divisor)`` per
    ``period / burst_divisor``; the outer guarantee does not depend on it.

    ``coalesce_s``: a call that must wait waits at least this long, so that those queued behind
    it find their slots free too and leave with it. At 200 calls/s a slot frees every 5 ms; woken
    for each, an idle worker spends more CPU waking than sending. Grouped, the calls leave a few
    at a time (and their answers come back so), at the same rate and within the same windows.

    :meth:`acquire` counts the call as sent at once. :meth:`reserve` hands back a pending
    :class:`Slot` for the caller to mark when the request really left (after connecting, say),
    so that time spent between the limiter and the wire can never compress a window.
    """

    def __init__(
        self,
        limit: int,
        period: float = 1.0,
        *,
        burst_divisor: int = 1,
        coalesce_s: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if period <= 0:
            raise ValueError("period must be positive")
        if burst_divisor < 1:
            raise ValueError("burst_divisor must be at least 1")
        if coalesce_s < 0:
            raise ValueError("coalesce_s must not be negative")
        self.limit = limit
        self.period = period
        self.coalesce_s = coalesce_s
        self.held = 0  # reservations that had to wait for a place
        self._clock: Clock = clock or LoopClock()
        self._windows = [_Window(limit, period)]
        if burst_divisor > 1 and limit > burst_divisor:
            self._windows.append(_Window(math.ceil(2 * limit / burst_divisor), period / burst_divisor))
        # FIFO: the lock hands itself to waiters in arrival order, so no caller starves.
        self._lock = asyncio.Lock()
        self._last: Slot | None = None

    def next_free_in(self) -> float:
        """Seconds until a call could go, were no one else waiting."""
        now = self._clock.now()
        return max(w.wait(now) for w in self._windows)

    def idle_since(self) -> float | None:
        """Send time of the newest call (now, if it is pending), or None if none was made."""
        if self._last is None:
            return None
        return self._last.sent_at if self._last.sent_at is not None else self._clock.now()

    def _take(self, pending: bool) -> Slot:
        slot = Slot(None if pending else self._clock.now())
        for window in self._windows:
            window.slots.append(slot)
        self._last = slot
        return slot

    def try_acquire(self, *, pending: bool = False) -> Slot | None:
        """Take a slot if one is free right now and nobody is queued; never waits."""
        if self._lock.locked() or self.next_free_in() > 0:
            return None
        return self._take(pending)

    async def wait_ready(self) -> None:
        """Wait until a slot is free, without taking it."""
        while (wait := self.next_free_in()) > 0:
            await self._clock.sleep(wait)

    async def reserve(self) -> Slot:
        """Wait for a place; the slot stays pending until the caller marks it sent."""
        # A task cancelled while it waits gives up its place and consumes no slot.
        async with self._lock:
            if self.next_free_in() > 0:
                self.held += 1
            while (wait := self.next_free_in()) > 0:
                await self._clock.sleep(max(wait, self.coalesce_s))
            return self._take(pending=True)

    async def acquire(self) -> Slot:
        slot = await self.reserve()
        slot.mark_sent(self._clock.now())
        return slot

    def busy(self) -> bool:
        return self._lock.locked()

    async def __aenter__(self) -> Slot:
        return await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class KeyedLimiter:
    """One sliding window per key (e.g. attribute writes per group), forgotten once idle."""

    def __init__(self, limit: int, period: float = 1.0, *, clock: Clock | None = None, prune_above: int = 1024) -> None:
        self.limit = limit
        self.period = period
        self._clock: Clock = clock or LoopClock()
        self._limiters: dict[str, SlidingWindowLimiter] = {}
        self._prune_above = prune_above

    def __len__(self) -> int:
        return len(self._limiters)

    def _for(self, key: str) -> SlidingWindowLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            if len(self._limiters) >= self._prune_above:
                self._prune()
            limiter = self._limiters[key] = SlidingWindowLimiter(self.limit, self.period, clock=self._clock)
        return limiter

    async def acquire(self, key: str) -> Slot:
        return await self._for(key).acquire()

    async def wait_ready(self, key: str) -> None:
        await self._for(key).wait_ready()

    def try_acquire(self, key: str, *, pending: bool = False) -> Slot | None:
        return self._for(key).try_acquire(pending=pending)

    def _prune(self) -> None:
        horizon = self._clock.now() - self.period
        for key, limiter in list(self._limiters.items()):
            last = limiter.idle_since()
            if not limiter.busy() and (last is None or last <= horizon):
                del self._limiters[key]
