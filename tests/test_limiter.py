"""The sliding-window limiter, on a fake clock: no sleeps, exact times."""

from __future__ import annotations

import asyncio
import random

import pytest

from syncer.emulator.state import max_in_window
from syncer.limiter import KeyedLimiter, SlidingWindowLimiter, Slot


class FakeClock:
    """Virtual time. Only the limiter's lock holder ever sleeps, so sleeping advances time."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0)


def _on_fake_clock(limit: int, **options: int) -> tuple[FakeClock, SlidingWindowLimiter]:
    """A limiter of ``limit`` calls per 1-second window, on a clock of its own at 0."""
    clock = FakeClock()
    return clock, SlidingWindowLimiter(limit, 1.0, clock=clock, **options)


async def _acquire_all(limiter: SlidingWindowLimiter, clock: FakeClock, n: int) -> list[float]:
    stamps = []
    for _ in range(n):
        await limiter.acquire()
        stamps.append(clock.t)
    return stamps


async def test_a_burst_of_limit_goes_at_once_and_the_next_waits_a_full_period() -> None:
    clock, limiter = _on_fake_clock(200)
    stamps = await _acquire_all(limiter, clock, 401)
    assert stamps[:200] == [0.0] * 200
    assert stamps[200:400] == [1.0] * 200
    assert stamps[400] == 2.0


async def test_a_call_that_waited_for_its_place_is_counted_as_held() -> None:
    clock, limiter = _on_fake_clock(200)
    await _acquire_all(limiter, clock, 200)
    assert limiter.held == 0  # the burst fits
    await _acquire_all(limiter, clock, 201)
    assert limiter.held == 2  # the 201st waited a period; so did the 401st


async def test_no_window_ever_holds_more_than_the_limit_under_random_bursts() -> None:
    rng = random.Random(3)
    clock, limiter = _on_fake_clock(50, burst_divisor=5)
    stamps: list[float] = []
    for _ in range(3000):
        clock.t += rng.choice([0.0, 0.0, 0.0, 0.001, 0.01, 0.3])
        await limiter.acquire()
        stamps.append(clock.t)
    assert max_in_window(stamps, 1.0) <= 50
    assert max_in_window(stamps, 0.2) <= 20


async def test_sustained_rate_is_the_limit() -> None:
    clock, limiter = _on_fake_clock(200, burst_divisor=10)
    stamps = await _acquire_all(limiter, clock, 2000)
    # 40 every 0.1 s fill the first half second; from then on the one-second window binds:
    # call k + 200 goes exactly one period after call k.
    assert stamps[-1] == pytest.approx(9.4)
    assert all(b - a == pytest.approx(1.0) for a, b in zip(stamps[:1800], stamps[200:], strict=True))
    assert max_in_window(stamps, 1.0) == 200


async def test_burst_divisor_spreads_a_second_over_tenths() -> None:
    clock, limiter = _on_fake_clock(200, burst_divisor=10)
    stamps = await _acquire_all(limiter, clock, 200)
    assert stamps[:40] == [0.0] * 40
    assert stamps[40] == pytest.approx(0.1)
    assert max_in_window(stamps, 0.1) == 40


async def test_a_cancelled_waiter_takes_no_slot_and_the_queue_moves_on() -> None:
    clock, limiter = _on_fake_clock(2)
    await limiter.acquire()
    await limiter.acquire()
    gate = asyncio.Event()

    # Block the next waiter inside its sleep so we can cancel it there.
    async def held_sleep(seconds: float) -> None:
        await gate.wait()
        clock.t += seconds

    clock.sleep = held_sleep  # type: ignore[method-assign]
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert limiter.busy()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not limiter.busy()
    clock.sleep = FakeClock.sleep.__get__(clock)  # type: ignore[method-assign]
    clock.t = 1.0
    # Both slots free: had the cancelled waiter taken one, only one would be.
    assert limiter.try_acquire()
    assert limiter.try_acquire()
    assert not limiter.try_acquire()


async def test_try_acquire_never_waits() -> None:
    clock, limiter = _on_fake_clock(1)
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    clock.t = 0.999
    assert not limiter.try_acquire()
    clock.t = 1.0
    assert limiter.try_acquire()


async def test_keyed_limiter_separates_keys_and_forgets_idle_ones() -> None:
    clock = FakeClock()
    keyed = KeyedLimiter(5, 1.0, clock=clock, prune_above=2)
    for _ in range(5):
        await keyed.acquire("a")
    assert not keyed.try_acquire("a")
    assert keyed.try_acquire("b")
    clock.t = 2.0
    assert keyed.try_acquire("c")  # pruning happened: a and b were idle
    assert len(keyed) == 1


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0)
    with pytest.raises(ValueError):
        SlidingWindowLimiter(1, 0)


async def test_a_window_starts_when_the_call_really_left_not_when_it_was_let_go() -> None:
    # The first burst waits 300 ms for connections before it leaves; the next burst must then
    # wait a full period from when the first one left, not from when it was let go.
    clock, limiter = _on_fake_clock(10)
    first = [await limiter.reserve() for _ in range(10)]
    clock.t = 0.3
    for slot in first:
        slot.mark_sent(clock.now())
    await limiter.acquire()
    assert clock.t == pytest.approx(1.3)


async def test_a_call_that_may_have_arrived_late_holds_its_window_that_much_longer() -> None:
    # Calls leave at 0 and 0.5; the first one's slow answer says it may have reached the vendor
    # as late as 0.3. Its window at the vendor then runs to 1.3, not 1.0: the third call waits
    # until then; the fourth goes when the second one's window ends, at 1.5.
    clock, limiter = _on_fake_clock(2)
    late = await limiter.acquire()
    clock.t = 0.5
    prompt = await limiter.acquire()
    late.arrived_by(0.3)
    prompt.arrived_by(0.2)  # never earlier than it left
    assert (late.sent_at, prompt.sent_at) == (0.3, 0.5)
    await limiter.acquire()
    assert clock.t == pytest.approx(1.3)
    await limiter.acquire()
    assert clock.t == pytest.approx(1.5)


async def test_a_pending_slot_never_expires() -> None:
    clock, limiter = _on_fake_clock(2)
    stuck = await limiter.reserve()
    await limiter.acquire()
    clock.t = 5.0
    assert limiter.try_acquire() is None  # the pending call might leave any moment
    stuck.mark_sent(clock.now())
    clock.t = 5.999
    assert limiter.try_acquire() is None
    clock.t = 6.0
    assert limiter.try_acquire() is not None


async def test_random_send_delays_never_crowd_a_window_of_send_times() -> None:
    rng = random.Random(5)
    pending: list[tuple[float, Slot]] = []
    sent: list[float] = []

    class SendingClock(FakeClock):
        """Requests leave on their own schedule while the limiter waits."""

        def advance_to(self, t: float) -> None:
            self.t = t
            for due, slot in [p for p in pending if p[0] <= t]:
                slot.mark_sent(due)
                sent.append(due)
            pending[:] = [p for p in pending if p[0] > t]

        async def sleep(self, seconds: float) -> None:
            self.advance_to(self.t + seconds)
            await asyncio.sleep(0)

    clock = SendingClock()
    limiter = SlidingWindowLimiter(20, 1.0, burst_divisor=4, clock=clock)
    for _ in range(1000):
        slot = await limiter.reserve()
        pending.append((clock.t + rng.choice([0.0, 0.0, 0.05, 0.3]), slot))
        clock.advance_to(clock.t + rng.choice([0.0, 0.001, 0.02]))
    clock.advance_to(clock.t + 1)
    assert len(sent) == 1000
    assert max_in_window(sent, 1.0) <= 20
    assert max_in_window(sent, 0.25) <= 10


async def test_waits_are_coalesced_so_calls_leave_in_groups_at_the_same_rate() -> None:
    """Send times spread out (each request takes a moment to leave): without coalescing, every
    call past the first second waits on its own; with it, calls leave a few at a time, at the
    same rate, and no window holds more than the limit."""
    results = {}
    for coalesce in (0.0, 0.025):
        clock = CountingClock()
        limiter = SlidingWindowLimiter(200, 1.0, burst_divisor=10, coalesce_s=coalesce, clock=clock)
        rng = random.Random(5)
        stamps = []
        for _ in range(3000):
            slot = await limiter.reserve()
            clock.t += rng.uniform(0, 0.001)
            slot.mark_sent(clock.t)
            stamps.append(clock.t)
        results[coalesce] = (stamps, clock.sleeps)
    (plain, plain_sleeps), (grouped, grouped_sleeps) = results[0.0], results[0.025]
    assert max_in_window(grouped, 1.0) <= 200 and max_in_window(grouped, 0.1) <= 40
    # Nearly the same sustained rate: a slot reused up to coalesce_s late moves its next
    # period as much (here, with each send taking its own moment, 2.4 % in all).
    assert grouped[-1] <= plain[-1] * 1.03
    assert plain_sleeps > 1000 and grouped_sleeps < plain_sleeps / 3, (plain_sleeps, grouped_sleeps)


class CountingClock(FakeClock):
    def __init__(self) -> None:
        super().__init__()
        self.sleeps = 0

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await super().sleep(seconds)
