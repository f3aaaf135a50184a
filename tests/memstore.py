"""The store in memory: :class:`syncer.ports.Store` without Postgres, for pipeline tests that run
in milliseconds. tests/test_store_contract.py holds it and :class:`syncer.db.store.PgStore` to
one contract; where the two could differ (the page query's seen batches, failed-first, shards,
what a record keeps), the contract says which is right.

Desired rows go in as their view would answer them: a profile (JSON text), a shape, whether
they manage attributes; :func:`tencent_row` makes those of a Tencent group as
sql/desired/tencent.sql does.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from syncer import ports
from syncer.errors import ConfigError, RunLocked
from syncer.models import FieldChange, GroupResult, JournalEntry, journal_of
from syncer.sharding import UNSHARDED, Shard, shard_of
from syncer.tencent.models import BASE_FIELDS, DesiredGroup

_SUCCESS = ("in_sync", "updated")


@dataclass(frozen=True)
class MemDesired:
    group_id: str
    profile: str
    shape: str | None
    manages_attrs: bool
    updated_at: datetime

    @property
    def desired_digest(self) -> str:
        return hashlib.md5(self.profile.encode()).hexdigest()


@dataclass
class MemState:
    """One group_sync_state row."""

    group_id: str
    last_run_id: int | None
    outcome: str
    error_code: int | None = None
    error_message: str | None = None
    warnings: list[str] = field(default_factory=list)
    attempts: int = 0
    last_success_at: datetime | None = None
    last_applied: dict[str, Any] | None = None
    attrs_fingerprint: str | None = None
    attrs_checked_at: float | None = None
    desired_digest: str | None = None
    live_digest: str | None = None
    answer_digest: str | None = None


@dataclass
class MemRun:
    run_id: int
    mode: str
    shard: Shard
    vendor: str
    lock_pid: int | None
    started_at: datetime
    status: str = "running"
    totals: ports.RunTotals | None = None


def tencent_row(group: DesiredGroup) -> tuple[str, str, bool]:
    """The profile, shape and manages_attrs sql/desired/tencent.sql's view gives ``group``."""
    columns = [c for c in BASE_FIELDS if getattr(group, c) is not None]
    custom = group.app_defined_data
    keys = list(custom) if isinstance(custom, dict) else []
    profile = {c: getattr(group, c) for c in BASE_FIELDS}
    for column in ("app_defined_data", "group_attrs"):
        value = getattr(group, column)
        profile[column] = None if value is None else json.dumps(value)
    return json.dumps(profile), json.dumps([columns, keys]), group.group_attrs is not None


class MemStore:
    """``clock``: seconds, as time.time(); what attrs_checked_age_s and the run times are read from."""

    def __init__(self, vendor: str = "tencent", clock: Callable[[], float] = time.time) -> None:
        self.vendor = vendor
        self._clock = clock
        self.desired: dict[str, MemDesired] = {}
        self._ids: list[str] = []  # desired's keys, sorted
        self.states: dict[str, MemState] = {}
        self.runs: list[MemRun] = []
        self._locks: set[str] = set()
        self.queries = 0  # round trips a database would have made
        self.journal: list[tuple[str, JournalEntry]] = []  # (group ID, entry), oldest first

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # -- what a test puts in --------------------------------------------------------------------

    def put(self, group_id: str, profile: str, shape: str | None = None, manages_attrs: bool = False) -> None:
        if group_id not in self.desired:
            bisect.insort(self._ids, group_id)
        self.desired[group_id] = MemDesired(group_id, profile, shape, manages_attrs, self._now())

    def put_groups(self, groups: Sequence[DesiredGroup]) -> None:
        for group in groups:
            self.put(group.group_id, *tencent_row(group))

    def delete(self, group_id: str) -> None:
        del self.desired[group_id]
        self._ids.remove(group_id)

    # -- the Store protocol ---------------------------------------------------------------------

    async def read_desired_page(
        self, after: str | None, limit: int, query: ports.PageQuery = ports.EVERY_ROW
    ) -> list[ports.PageRow | ports.SeenBatch]:
        self.queries += 1
        if query.selection == "failed":
            return list(self._failed_page(after, limit, query.shard))
        only = None if query.only is None else set(query.only)
        ids = self._ids if only is None else [i for i in self._ids if i in only]
        start = bisect.bisect_left(ids, after or "")
        if after is not None and start < len(ids) and ids[start] == after:
            start += 1
        page = [self.desired[i] for i in ids[start : start + limit]]
        rows = [self._page_row(d, self._wanted(d, query)) for d in page]
        batches: dict[str, list[ports.PageRow]] = {}
        for row in rows:
            if row.wanted and row.answer_digest is not None:
                batches.setdefault(row.answer_digest, []).append(row)
        seen = {digest: members for digest, members in batches.items() if len(members) == query.whole_batch}
        in_seen = {row.group_id for members in seen.values() for row in members}
        items: list[ports.PageRow | ports.SeenBatch] = []
        for index, row in enumerate(rows):
            if row.group_id in in_seen:
                if index == len(rows) - 1:
                    items.append(row._replace(wanted=False))  # carries the cursor on
            elif row.wanted or index == len(rows) - 1:
                items.append(row)
        items += [_seen_batch(digest, members) for digest, members in seen.items()]
        return sorted(items, key=lambda item: item.group_id)

    def _wanted(self, desired: MemDesired, query: ports.PageQuery) -> bool:
        state = self.states.get(desired.group_id)
        if state is not None and state.last_run_id == (query.run_id or 0):
            return False
        if (
            query.only is None
            and state is not None
            and state.outcome == "reverted"
            and state.desired_digest == desired.desired_digest
        ):
            return False  # held since a revert, until its desired row changes
        since, shard = query.since, query.shard
        if query.selection == "changed" and not (
            (since is not None and desired.updated_at > since) or state is None or state.outcome not in _SUCCESS
        ):
            return False
        return shard.count == 1 or shard_of(desired.group_id, shard.count) == shard.index

    def _page_row(self, desired: MemDesired, wanted: bool, *, with_answer: bool = True) -> ports.PageRow:
        state = self.states.get(desired.group_id)
        same = state is not None and state.desired_digest == desired.desired_digest
        live_digest = state.live_digest if state is not None and same else None
        in_full = wanted and live_digest is None
        return ports.PageRow(
            desired.group_id,
            wanted,
            live_digest,
            state.answer_digest if state is not None and same and with_answer else None,
            state.attrs_fingerprint if state is not None else None,
            self._age(state),
            desired.shape,
            desired.manages_attrs,
            desired.desired_digest if in_full else None,
            desired.profile if in_full else None,
        )

    def _age(self, state: MemState | None) -> float | None:
        if state is None or state.attrs_checked_at is None:
            return None
        return self._clock() - state.attrs_checked_at

    def _failed_page(self, after: str | None, limit: int, shard: Shard) -> list[ports.PageRow]:
        ids = sorted(
            i
            for i, s in self.states.items()
            if s.outcome == "failed"
            and i in self.desired
            and (i > (after or "") or (after is None and i == ""))
            and (shard.count == 1 or shard_of(i, shard.count) == shard.index)
        )
        return [
            self._page_row(self.desired[i], True)._replace(
                live_digest=None,
                answer_digest=None,
                desired_digest=self.desired[i].desired_digest,
                profile=self.desired[i].profile,
            )
            for i in ids[:limit]
        ]

    async def targets(
        self, group_ids: Sequence[str], where: str | None, relation: str = ""
    ) -> tuple[list[str], list[str]]:
        self.queries += 1
        if where is not None:
            raise ConfigError("--where: the in-memory store runs no SQL")
        return sorted({i for i in group_ids if i in self.desired}), sorted(
            {i for i in group_ids if i not in self.desired}
        )

    async def read_seen_rows(self, group_ids: Sequence[str]) -> list[ports.PageRow]:
        self.queries += 1
        found = sorted(i for i in set(group_ids) if i in self.desired)
        return [self._page_row(self.desired[i], True, with_answer=False) for i in found]

    async def read_desired(self, group_ids: Sequence[str]) -> dict[str, ports.DesiredRecord]:
        if not group_ids:
            return {}
        self.queries += 1
        return {
            i: ports.DesiredRecord(i, self.desired[i].desired_digest, self.desired[i].profile)
            for i in group_ids
            if i in self.desired
        }

    async def count_desired(self, shard: Shard = UNSHARDED) -> int:
        self.queries += 1
        return sum(1 for i in self._ids if shard.count == 1 or shard_of(i, shard.count) == shard.index)

    async def last_completed_run(self, shard: Shard = UNSHARDED) -> tuple[datetime | None, int]:
        self.queries += 1
        mine = [
            r
            for r in self.runs
            if r.vendor == self.vendor and r.shard == shard and r.status in ("succeeded", "partial")
        ]
        if not mine:
            return None, 0
        last_full = max((r.run_id for r in mine if r.mode == "run"), default=0)
        return mine[-1].started_at, sum(1 for r in mine if r.mode == "incremental" and r.run_id > last_full)

    def run_lock(
        self, name: str, *, within: str | None = None, shard_count: int = 1, timings: ports.LockTimings | None = None
    ) -> AbstractAsyncContextManager[ports.RunLock]:
        return self._hold(name)

    @asynccontextmanager
    async def _hold(self, name: str) -> AsyncIterator[ports.RunLock]:
        if name in self._locks:
            raise RunLocked(f"another syncer run is already working on {name!r}")
        self._locks.add(name)
        try:
            yield ports.RunLock(pid=0)
        finally:
            self._locks.discard(name)

    async def orphaned_runs(self) -> list[int]:
        return []  # no run outlives its lock here

    async def abandon_runs(self, run_ids: Sequence[int]) -> None:
        for run in self.runs:
            if run.run_id in run_ids and run.status == "running":
                run.status = "abandoned"

    async def start_run(self, mode: str, shard: Shard = UNSHARDED, lock_pid: int | None = None) -> int:
        self.queries += 1
        run = MemRun(len(self.runs) + 1, mode, shard, self.vendor, lock_pid, self._now())
        self.runs.append(run)
        return run.run_id

    async def run_changes(self, run_id: int) -> dict[str, list[FieldChange]]:
        self.queries += 1
        found: dict[str, list[FieldChange]] = {}
        for group_id, entry in self.journal:
            if entry.run_id == run_id:
                found.setdefault(group_id, []).append(FieldChange(entry.field, entry.before, entry.after))
        return found

    async def history(self, group_id: str, limit: int = 100) -> list[JournalEntry]:
        self.queries += 1
        mine = [entry for gid, entry in self.journal if gid == group_id]
        return mine[::-1][:limit]

    async def record_groups(self, run_id: int, results: Sequence[GroupResult]) -> None:
        if not results:
            return
        self.queries += 1
        now, clock = self._now(), self._clock()
        for r in results:
            self.journal += [
                (r.group_id, JournalEntry(now, run_id, field, before, after, outcome))
                for field, before, after, outcome in journal_of(r)
            ]
            old = self.states.get(r.group_id)
            success = str(r.outcome) in _SUCCESS
            if r.attrs_fingerprint is None:  # leaves what was known
                fingerprint = old.attrs_fingerprint if old else None
                checked = old.attrs_checked_at if old else None
            else:  # "" forgets it
                fingerprint = r.attrs_fingerprint
                checked = clock if r.attrs_fingerprint != "" else None
            self.states[r.group_id] = MemState(
                r.group_id,
                run_id,
                str(r.outcome),
                r.error_code,
                r.error_message,
                list(r.warnings),
                0 if success else (old.attempts + 1 if old else 1),
                now if success else (old.last_success_at if old else None),
                r.applied if r.applied is not None else (old.last_applied if old else None),
                fingerprint,
                checked,
                r.desired_digest,
                r.live_digest,
                r.answer_digest,
            )

    async def record_unchanged(self, run_id: int, batches: Sequence[ports.UnchangedBatch]) -> None:
        if not batches:
            return
        self.queries += 1
        now = self._now()
        for batch in batches:
            for group_id in batch.group_ids.split("\n"):
                state = self.states.get(group_id)
                if state is not None:
                    self.states[group_id] = replace(
                        state, last_run_id=run_id, last_success_at=now, answer_digest=batch.answer_digest
                    )

    async def finish_run(self, run_id: int, totals: ports.RunTotals) -> None:
        self.queries += 1
        run = self.runs[run_id - 1]
        run.status, run.totals = totals.status, totals


def _seen_batch(digest: str, members: list[ports.PageRow]) -> ports.SeenBatch:
    shapes = sorted({m.shape for m in members if m.shape is not None})
    ages = [
        float("inf") if m.attrs_checked_age_s is None else m.attrs_checked_age_s for m in members if m.manages_attrs
    ]
    return ports.SeenBatch(
        members[0].group_id,
        digest,
        "\n".join(m.group_id for m in members),
        "\n".join(shapes) if shapes else None,
        any(m.manages_attrs for m in members),
        max(ages) if ages else None,
    )
