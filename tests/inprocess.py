"""A vendor in the test's own process: no HTTP, no limiter, answers as its ``live`` dict says.

With :class:`tests.memstore.MemStore` it runs the real pipeline in milliseconds: paging,
failed-first, seen batches and their fallback, rejections and stops. What it cannot show (the
wire, the limits, Postgres) the tests against the emulator and Postgres do.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncer import jsoncodec
from syncer.budget import WriteGate
from syncer.errors import Interrupted
from syncer.models import FieldChange, GroupPlan, GroupResult, Outcome
from syncer.ports import ReadHints
from syncer.vendor import (
    TEXT,
    Decision,
    LiveAnswer,
    LiveBatch,
    ReadError,
    Settled,
    Target,
    decode_profile,
    planned_writes,
    without_writes,
)


@dataclass
class Calls:
    limits: dict[str, int] = field(default_factory=lambda: {"read": 200, "write": 200})
    calls: Counter[str] = field(default_factory=Counter)
    peak_sends_per_second: Counter[str] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)
    throttled: int = 0
    retries: int = 0
    retry_causes: Counter[str] = field(default_factory=Counter)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> Calls:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def profile(name: str | None) -> str:
    """A desired row's profile, as its view would give it."""
    return json.dumps({"name": name})


class InProcessVendor:
    """Groups have one managed field, ``name``; desired rows are :func:`profile`\\ s."""

    name = "tencent"  # what the records say
    read_command = "read"

    def __init__(self, live: dict[str, dict[str, Any]], batch_max: int = 5) -> None:
        self.live = live
        self.batch_max = batch_max
        self.client = Calls()
        self.reads: list[list[str]] = []  # each batch read's group IDs, in the order sent
        self.writes: list[str] = []  # each write's group, in the order sent
        self.decoded = 0  # answers decoded (not settled whole by their digest)
        self.failing: set[str] = set()  # groups whose read fails
        self.on_write: Callable[[str], Awaitable[None]] | None = None  # before each write lands

    def lock_scope(self) -> str:
        return "tencent.inprocess"

    def decode(self, group_id: str, profile: str) -> dict[str, Any]:
        (name,) = decode_profile(profile, {"name": TEXT})
        return {"name": name}

    def validate(self, desired: dict[str, Any]) -> list[str]:
        return [] if desired["name"] else ["name: must not be empty"]

    async def fetch_live(
        self, group_ids: Sequence[str], hints: Sequence[ReadHints], *, same_as: str | None = None
    ) -> LiveBatch:
        if self.client.stopping.is_set():
            raise Interrupted("read")
        self.client.calls["read"] += 1
        self.reads.append(list(group_ids))
        await asyncio.sleep(0)  # an answer takes a turn of the loop, as over the network
        body = jsoncodec.canonical([[i, self.live.get(i), i in self.failing] for i in group_ids])
        digest = hashlib.sha256(body).hexdigest()[:32]
        if digest == same_as:
            return LiveBatch(digest, None)
        self.decoded += 1
        groups: dict[str, LiveAnswer | ReadError] = {}
        for group_id in group_ids:
            if group_id in self.failing:
                groups[group_id] = ReadError(500, "the read failed")
            elif group_id not in self.live:
                groups[group_id] = ReadError(None, "no such group", not_found=True)
            else:
                raw = self.live[group_id]
                groups[group_id] = LiveAnswer.of(raw, (raw.get("name"),), digest)
        return LiveBatch(digest, groups)

    def settles_by_digest(self, hints: ReadHints) -> bool:
        return True

    def parse_live(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return dict(raw)

    def settle(
        self, target: Target[dict[str, Any]], live: dict[str, Any], answer: LiveAnswer, gate: WriteGate
    ) -> Decision:
        want, have = target.desired["name"], live.get("name")
        changes = () if want == have else (FieldChange("name", have, want),)
        plan = GroupPlan(target.group_id, {"name": want} if changes else None, None, changes, calls=("write",))
        return without_writes(target, answer, plan, gate) or self._write(plan)

    def plan_of_changes(self, group_id: str, changes: Sequence[FieldChange]) -> GroupPlan:
        names = [c for c in changes if c.field == "name" and c.new is not None]
        return GroupPlan(group_id, {"name": names[-1].new} if names else None, None, tuple(names), calls=("write",))

    def apply_planned(
        self, target: Target[dict[str, Any]], live: dict[str, Any], plan: GroupPlan, gate: WriteGate
    ) -> Decision:
        return planned_writes(plan, {"name": live.get("name")}, gate) or self._write(plan)

    async def _write(self, plan: GroupPlan) -> Settled:
        if self.client.stopping.is_set():
            raise Interrupted("write")
        self.client.calls["write"] += 1
        self.writes.append(plan.group_id)
        if self.on_write is not None:
            await self.on_write(plan.group_id)
        assert plan.base_payload is not None
        self.live[plan.group_id]["name"] = plan.base_payload["name"]
        result = GroupResult(plan.group_id, Outcome.UPDATED, applied=plan.base_payload, changes=list(plan.changes))
        return Settled(result, plan)
