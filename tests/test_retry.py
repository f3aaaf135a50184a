"""The retry policy and the credentials gate, on their own: no network, no clock."""

from __future__ import annotations

import asyncio
import functools
import random

import pytest

from syncer.client import CallFailed
from syncer.errors import CredentialsError, VendorError
from syncer.gate import CredentialsGate
from syncer.retry import ATTEMPTS_BEFORE_FIRST_SUCCESS, RetryPolicy


def _policy(**overrides: object) -> RetryPolicy:
    values: dict[str, object] = {
        "max_attempts": 8,
        "backoff_base_s": 0.5,
        "backoff_cap_s": 4.0,
        "budget_floor": 2,
        "budget_ratio": 0.5,
        "rng": random.Random(1),
    }
    return RetryPolicy(**(values | overrides))  # type: ignore[arg-type]


def test_a_call_before_any_success_gets_few_attempts_after_one_all_of_them() -> None:
    policy = _policy()
    assert policy.attempts(proven=False) == ATTEMPTS_BEFORE_FIRST_SUCCESS
    assert policy.attempts(proven=True) == 8
    assert _policy(max_attempts=2).attempts(proven=False) == 2
    assert policy.first_attempts == 2


def test_the_budget_is_a_floor_plus_a_share_of_the_calls_made() -> None:
    policy = _policy()
    assert [policy.take_retry() for _ in range(3)] == [True, True, False]  # floor 2, no call yet
    for _ in range(4):
        policy.attempts(proven=True)  # four calls: 2 + 0.5 × 4 = 4 retries in all
    assert [policy.take_retry() for _ in range(3)] == [True, True, False]
    assert policy.retries == 4


def test_backoff_is_capped_and_jittered_over_the_whole_range() -> None:
    policy = _policy(rng=random.Random(7))
    waits = [policy.backoff(attempt) for attempt in range(1, 12) for _ in range(50)]
    assert max(waits) <= 4.0 and min(waits) >= 0.0
    assert all(policy.backoff(1) <= 0.5 for _ in range(100))
    assert max(policy.backoff(10) for _ in range(200)) > 3.0  # the cap, not 0.5 × 2⁹, bounds it


def _never(exc: VendorError) -> CredentialsError | None:
    return None


async def test_the_gate_lets_one_call_through_until_one_is_answered() -> None:
    gate = CredentialsGate()
    events: list[str] = []

    async def call(n: int) -> int:
        events.append(f"start {n}")
        for _ in range(3):
            await asyncio.sleep(0)  # others would start now, were they let through
        events.append(f"end {n}")
        return n

    results = await asyncio.gather(*(gate.through(functools.partial(call, n), _never) for n in range(5)))
    assert results == list(range(5)) and gate.proven
    assert events[:2] == ["start 0", "end 0"]  # alone until answered
    events.clear()
    await asyncio.gather(*(gate.through(functools.partial(call, n), _never) for n in range(3)))
    assert events[:3] == ["start 0", "start 1", "start 2"]  # proven: side by side


async def test_a_refused_first_call_refuses_every_later_one_without_calling() -> None:
    gate = CredentialsGate()
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise CredentialsError("code 70001: check TENCENT_IM_SECRET_KEY", code=70001, command="get_group_info")

    for _ in range(3):
        with pytest.raises(CredentialsError, match="70001"):
            await gate.through(refused, lambda exc: None)
    assert calls == 1 and not gate.proven


async def test_a_first_call_with_no_answer_is_turned_into_one_error_for_all() -> None:
    gate = CredentialsGate()

    async def no_answer() -> None:
        raise CallFailed("no answer", code=None, command="get_group_info", outcome_unknown=True)

    def unusable(exc: VendorError) -> CredentialsError | None:
        return CredentialsError(f"unreachable: {exc}") if isinstance(exc, CallFailed) and exc.code is None else None

    with pytest.raises(CredentialsError, match="unreachable"):
        await gate.through(no_answer, unusable)
    with pytest.raises(CredentialsError, match="unreachable"):
        await gate.through(no_answer, unusable)

    async def vendor_code() -> None:
        raise CallFailed("code 10010", code=10010, command="get_group_info")

    other = CredentialsGate()
    with pytest.raises(CallFailed):
        await other.through(vendor_code, unusable)
    assert other.proven  # an answer not about credentials proves them
