"""The limiters' glue: which slots a call needs before it may leave (its command's, and its
group's where the vendor limits writes per group), when they count as used, and how far an
answer moves them.

A slot is stamped when its request is really on the wire (a new connection may have taken a
handshake since the limiter let it go), and moved by a slow answer: the vendor stamped the call
somewhere between its send and the answer, less the fastest round trip seen. The limiters
themselves are :mod:`syncer.limiter`.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Mapping

from syncer.limiter import KeyedLimiter, SlidingWindowLimiter, Slot

# Calls held by a limiter leave in groups at most this often (see SlidingWindowLimiter): at 200
# calls/s, about 5 at a time, each group waking the worker once (bench/RESULTS.md has its cost).
COALESCE_S = 0.025


class Pacer:
    """``limits``: calls per sliding ``window_s`` by command; ``per_group``: the commands also
    limited to ``per_group_limit`` per group."""

    def __init__(
        self,
        limits: Mapping[str, int],
        window_s: float,
        *,
        per_group: frozenset[str],
        per_group_limit: int,
        max_in_flight: int,
    ) -> None:
        self._limiters = {
            c: SlidingWindowLimiter(n, window_s, burst_divisor=10, coalesce_s=COALESCE_S) for c, n in limits.items()
        }
        self._per_group = per_group
        self._group_limiter = KeyedLimiter(per_group_limit, window_s)
        # Bounded per command, so that callers queued on one saturated command cannot take
        # every connection from the others.
        self.in_flight = {c: asyncio.Semaphore(max_in_flight) for c in limits}
        # The busiest sliding second of real send times, per command: what the vendor sees,
        # less the network's jitter. Reported with every run.
        self._recent_sends: dict[str, deque[float]] = {c: deque() for c in limits}
        self.peak_sends_per_second: Counter[str] = Counter()
        self._fastest_round_trip: float | None = None

    async def slots(self, command: str, group_id: str | None) -> list[Slot]:
        """The slots a call needs, once they are free."""
        limiter = self._limiters[command]
        if group_id is None or command not in self._per_group:
            return [await limiter.reserve()]
        # Both windows must hold at the moment of sending: wait for the group, take a command
        # slot, and only send if the group is still free (else the slot goes unused: safe).
        while True:
            await self._group_limiter.wait_ready(group_id)
            slot = await limiter.reserve()
            group_slot = self._group_limiter.try_acquire(group_id, pending=True)
            if group_slot is not None:
                return [slot, group_slot]
            slot.mark_sent(asyncio.get_running_loop().time())

    @property
    def held(self) -> dict[str, int]:
        """Calls that waited for their command's limiter, by command: the limit was what paced them."""
        return {c: limiter.held for c, limiter in self._limiters.items() if limiter.held}

    def sent(self, command: str, slots: list[Slot]) -> None:
        """The request is on the wire now: this is when its window starts."""
        now = asyncio.get_running_loop().time()
        for slot in slots:
            slot.mark_sent(now)
        recent = self._recent_sends[command]
        recent.append(now)
        while now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) > self.peak_sends_per_second[command]:
            self.peak_sends_per_second[command] = len(recent)

    def answered(self, slots: list[Slot]) -> None:
        """The vendor stamped this call between its send and now, less the fastest round trip
        (the least the way there and back can take): move its slots to the latest it could be."""
        now = asyncio.get_running_loop().time()
        sent = slots[0].sent_at if slots else None
        if sent is None:
            return
        round_trip = now - sent
        if self._fastest_round_trip is None or round_trip < self._fastest_round_trip:
            self._fastest_round_trip = round_trip
        for slot in slots:
            slot.arrived_by(now - self._fastest_round_trip)

    @staticmethod
    def settle(slots: list[Slot]) -> None:
        """Slots of a call that was not sent, or not known to be: counted as sent now, the
        latest it could have been (harmless when already stamped)."""
        now = asyncio.get_running_loop().time()
        for slot in slots:
            slot.mark_sent(now)
