"""The reconciliation pipeline: read desired → fetch live → diff → write → record.

Desired rows stream in pages; valid ones gather into batches of up to 50 that are read, diffed
and written concurrently (bounded by ``batches_in_flight``), so writes for the first batches go
out while later pages are still being read. Outcomes are recorded in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import structlog

from syncer.client import CallFailed, VendorClient
from syncer.db.store import DesiredRow, RunTotals, Selection, Store
from syncer.diff import attrs_fingerprint, plan_group
from syncer.errors import CredentialsError, Interrupted, SyncerError, VendorError
from syncer.models import GroupPlan, GroupResult, LiveGroup, Outcome
from syncer.settings import Settings
from syncer.tencent.api import GROUP_BATCH_MAX, GROUP_NOT_FOUND_CODES
from syncer.tencent.ops import ReadError, fetch_live, read_attrs, write_attrs, write_base
from syncer.validation import validate

log = structlog.get_logger("syncer.pipeline")


@dataclass
class RunReport:
    mode: str
    shard: str = "0/1"
    run_id: int | None = None
    status: str = "running"
    groups_read: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    groups_with_warnings: int = 0
    would_change: int = 0  # plan mode: groups with at least one write planned
    calls: dict[str, int] = field(default_factory=dict)
    peak_sends_per_second: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    retries: int = 0
    duration_s: float = 0.0
    error: str | None = None

    @property
    def troubled(self) -> int:
        return self.outcomes[Outcome.REJECTED] + self.outcomes[Outcome.FAILED] + self.outcomes[Outcome.NOT_FOUND]

    @property
    def exit_code(self) -> int:
        if self.status == "failed":
            return 1
        return 2 if self.troubled else 0

    def totals(self) -> RunTotals:
        return RunTotals(
            status=self.status,
            groups_read=self.groups_read,
            in_sync=self.outcomes[Outcome.IN_SYNC],
            updated=self.outcomes[Outcome.UPDATED],
            rejected=self.outcomes[Outcome.REJECTED],
            failed=self.outcomes[Outcome.FAILED],
            not_found=self.outcomes[Outcome.NOT_FOUND],
            warnings=self.groups_with_warnings,
            calls=self.calls,
            error=self.error,
        )


class RunObserver(Protocol):
    """Watches a run go by: metrics and progress display plug in here."""

    def run_started(self, report: RunReport, total: int | None) -> None: ...

    def group_finished(self, result: GroupResult) -> None: ...

    def run_finished(self, report: RunReport) -> None: ...


class _Recorder:
    """Buffers group outcomes and writes them in batches: one round trip per batch."""

    def __init__(self, store: Store, run_id: int | None, batch_size: int) -> None:
        self._store = store
        self._run_id = run_id
        self._batch_size = batch_size
        self._buffer: list[GroupResult] = []
        self._lock = asyncio.Lock()

    async def add(self, result: GroupResult) -> None:
        self._buffer.append(result)
        if len(self._buffer) >= self._batch_size:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if batch and self._run_id is not None:
                await self._store.record_groups(self._run_id, batch)


def _failure(group_id: str, exc: VendorError, what: str) -> GroupResult:
    if exc.code in GROUP_NOT_FOUND_CODES:
        return GroupResult(group_id, Outcome.NOT_FOUND, exc.code, f"{what}: {exc}")
    message = f"{what}: {exc}"
    if isinstance(exc, CallFailed) and exc.outcome_unknown:
        message += " (no answer: the write may or may not have applied; the next run reads the group again)"
    return GroupResult(group_id, Outcome.FAILED, exc.code, message)


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: VendorClient,
        *,
        dry_run: bool = False,
        on_plan: Callable[[GroupPlan], None] | None = None,
        stop: asyncio.Event | None = None,
        observers: Sequence[RunObserver] = (),
    ) -> None:
        self._settings = settings
        self._store = store
        self._client = client
        self._dry_run = dry_run
        self._on_plan = on_plan
        self._stop = stop or asyncio.Event()
        self._observers = list(observers)
        self.report = RunReport(mode="plan" if dry_run else "run", shard=str(settings.shard))
        self._since: datetime | None = None  # incremental: rows changed after this
        self._lock_pid: int | None = None  # the Postgres backend holding the run lock

    def lock_names(self) -> tuple[str, str | None]:
        """What one run at a time means: one app (SDKAppID) per database, or one shard of it.

        Returns the lock to hold exclusively and, for a shard, the app's lock to hold shared.
        """
        app = f"syncer.run.tencent.{self._settings.sdkappid}"
        shard = self._settings.shard
        if not shard.sharded:
            return app, None
        return f"{app}.shard.{shard.index}.of.{shard.count}", app

    async def run(self) -> RunReport:
        """Reconcile once. A run (not a plan) first takes the run lock, before any call."""
        if self._dry_run:
            return await self._run()
        name, within = self.lock_names()
        async with self._store.run_lock(name, within=within) as lock_pid:
            self._lock_pid = lock_pid
            return await self._run()

    async def _choose_mode(self) -> None:
        """Full or incremental: a first run, or every full_every-th one, is full."""
        if self._dry_run or not self._settings.incremental:
            return
        since, incremental_runs = await self._store.last_completed_run(self._settings.shard)
        every = self._settings.full_every
        if since is None or (every and incremental_runs + 1 >= every):
            log.info("full_run", reason="no completed run yet" if since is None else f"every {every}th run")
            return
        self._since = since
        self.report.mode = "incremental"

    async def _run(self) -> RunReport:
        started = time.monotonic()
        report = self.report
        shard = self._settings.shard
        await self._choose_mode()
        if not self._dry_run:
            report.run_id = await self._store.start_run(report.mode, shard, self._lock_pid)
        recorder = _Recorder(self._store, report.run_id, self._settings.record_batch_size)
        # Every line logged from here on, by every batch task, names the run (and its shard).
        structlog.contextvars.bind_contextvars(run_id=report.run_id)
        if shard.sharded:
            structlog.contextvars.bind_contextvars(shard=str(shard))
        # An incremental run's total is unknown until it is done; a full one's is a cheap count.
        total = None if self._since is not None else await self._store.count_desired(shard)
        log.info(
            "run_started",
            mode=report.mode,
            groups=total,
            rate_limits=self._client.limits,
        )
        for observer in self._observers:
            observer.run_started(report, total)
        try:
            await self._until_stopped(self._phases(recorder))
            await recorder.flush()
            if self._stop.is_set():
                report.status = "interrupted"
            else:
                report.status = "partial" if report.troubled else "succeeded"
        except SyncerError as exc:
            report.status = "failed"
            report.error = str(exc)
            await self._record_safely(recorder)
            raise
        finally:
            report.duration_s = time.monotonic() - started
            report.calls = dict(self._client.calls)
            report.peak_sends_per_second = dict(self._client.peak_sends_per_second)
            report.throttled = self._client.throttled
            report.retries = self._client.retries
            if report.run_id is not None:
                await self._finish_safely()
            for observer in self._observers:
                observer.run_finished(report)
            log.info(
                "run_finished",
                mode=report.mode,
                status=report.status,
                groups_read=report.groups_read,
                **{str(k): report.outcomes[k] for k in Outcome},
                calls=report.calls,
                throttled=report.throttled,
                retries=report.retries,
                duration_s=round(report.duration_s, 3),
                error=report.error,
            )
            structlog.contextvars.unbind_contextvars("run_id", "shard")
        return report

    async def _until_stopped(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work``; once a stop is asked for, send nothing new, let calls in flight finish
        for up to the grace period, then cancel what is left (those groups stay unrecorded)."""
        task = asyncio.ensure_future(work)
        stop_wait = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                log.warning("run_stopping", grace_s=self._settings.grace_period_s)
                self._client.stopping.set()
                await asyncio.wait({task}, timeout=self._settings.grace_period_s)
                if not task.done():
                    log.warning("grace_period_over", action="cancelling calls still in flight")
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    return
            await task
        finally:
            stop_wait.cancel()

    async def _phases(self, recorder: _Recorder) -> None:
        if not self._dry_run:
            # The groups the last run left failed go first, so a fault's victims are retried
            # early; the second pass then skips what this run has already recorded.
            await self._stream(recorder, "failed")
            await recorder.flush()
        await self._stream(recorder, "all" if self._since is None else "changed")

    async def _record_safely(self, recorder: _Recorder) -> None:
        try:
            await recorder.flush()
        except SyncerError as exc:
            log.error("recording_failed", error=str(exc))

    async def _finish_safely(self) -> None:
        assert self.report.run_id is not None
        try:
            await self._store.finish_run(self.report.run_id, self.report.totals())
        except SyncerError as exc:
            log.error("recording_failed", error=str(exc))

    async def _stream(self, recorder: _Recorder, selection: Selection) -> None:
        slots = asyncio.Semaphore(self._settings.batches_in_flight)
        try:
            async with asyncio.TaskGroup() as tasks:

                async def submit(batch: list[DesiredRow]) -> None:
                    await slots.acquire()
                    tasks.create_task(self._batch(batch, recorder, slots))

                after: str | None = None
                batch: list[DesiredRow] = []
                while not self._stop.is_set():
                    page = await self._store.read_desired_page(
                        after,
                        self._settings.page_size,
                        run_id=self.report.run_id,
                        selection=selection,
                        since=self._since,
                        shard=self._settings.shard,
                    )
                    if not page:
                        break
                    after = page[-1].group.group_id
                    for row in page:
                        if not row.wanted:
                            continue
                        self.report.groups_read += 1
                        problems = validate(row.group)
                        if problems:
                            await self._finish_group(recorder, self._rejected(row.group.group_id, problems))
                            continue
                        batch.append(row)
                        if len(batch) == GROUP_BATCH_MAX:
                            await submit(batch)
                            batch = []
                if batch and not self._stop.is_set():
                    await submit(batch)
        except BaseExceptionGroup as group:
            # Surface the first of our own errors (a fatal one stops every batch).
            for exc in _leaves(group):
                if isinstance(exc, SyncerError):
                    raise exc from None
            raise

    def _rejected(self, group_id: str, problems: list[str]) -> GroupResult:
        message = f"group {group_id!r}: " + "; ".join(problems)
        log.warning("group_rejected", group_id=group_id, error=message)
        return GroupResult(group_id, Outcome.REJECTED, None, message)

    async def _finish_group(self, recorder: _Recorder, result: GroupResult) -> None:
        self.report.outcomes[result.outcome] += 1
        if result.warnings:
            self.report.groups_with_warnings += 1
        for observer in self._observers:
            observer.group_finished(result)
        if not self._dry_run:
            await recorder.add(result)

    async def _batch(self, batch: list[DesiredRow], recorder: _Recorder, slots: asyncio.Semaphore) -> None:
        try:
            try:
                live = await fetch_live(self._client, [r.group for r in batch])
            except Interrupted:
                return  # stopping: the next run reads these groups
            # Most groups of a routine run need no call: plan those inline, and give a task only
            # to the groups that must read attributes or write.
            pending = []
            for row in batch:
                state = live[row.group.group_id]
                attrs = row.group.group_attrs
                fingerprint = attrs_fingerprint(attrs) if isinstance(attrs, dict) else None
                done = self._settle_without_calls(row, state, fingerprint)
                if done is not None:
                    await self._finish_group(recorder, done)
                else:
                    pending.append(self._group(row, state, fingerprint))
            for result in await asyncio.gather(*pending):
                if result is not None:
                    await self._finish_group(recorder, result)
        finally:
            slots.release()

    def _settle_without_calls(
        self, row: DesiredRow, live: LiveGroup | ReadError, fingerprint: str | None
    ) -> GroupResult | None:
        """The outcome of a group that needs no call at all, or None if it needs one."""
        if isinstance(live, ReadError):
            return None  # cheap either way: let _sync_group word the failure
        if fingerprint is not None and self._must_read_attrs(row, fingerprint):
            return None
        plan = plan_group(row.group, live)
        if not plan.in_sync or self._dry_run:
            return None
        for warning in plan.warnings:
            log.warning("field_skipped", group_id=plan.group_id, warning=warning)
        return GroupResult(plan.group_id, Outcome.IN_SYNC, warnings=list(plan.warnings))

    def _must_read_attrs(self, row: DesiredRow, fingerprint: str) -> bool:
        state = row.state
        return (
            self._settings.check_attrs
            or state.attrs_fingerprint != fingerprint
            or state.attrs_checked_age_s is None
            or state.attrs_checked_age_s > self._settings.attr_recheck_s
        )

    async def _group(self, row: DesiredRow, live: LiveGroup | ReadError, fingerprint: str | None) -> GroupResult | None:
        """The group's outcome, or None if a stop came before its work was done."""
        try:
            return await self._sync_group(row, live, fingerprint)
        except Interrupted:
            return None

    async def _sync_group(self, row: DesiredRow, live: LiveGroup | ReadError, fingerprint: str | None) -> GroupResult:
        group_id = row.group.group_id
        if isinstance(live, ReadError):
            outcome = Outcome.NOT_FOUND if live.code in GROUP_NOT_FOUND_CODES else Outcome.FAILED
            log.warning("group_read_failed", group_id=group_id, code=live.code, error=live.message)
            return GroupResult(group_id, outcome, live.code, f"get_group_info: {live.message}")

        attrs_read = False
        if fingerprint is not None and self._must_read_attrs(row, fingerprint):
            try:
                live = replace(live, attrs=await read_attrs(self._client, group_id))
                attrs_read = True
            except CredentialsError:
                raise
            except VendorError as exc:
                return _failure(group_id, exc, "get_group_attr")

        plan = plan_group(row.group, live)
        for warning in plan.warnings:
            log.warning("field_skipped", group_id=group_id, warning=warning)
        if self._dry_run:
            if not plan.in_sync:
                self.report.would_change += 1
            if self._on_plan is not None:
                self._on_plan(plan)
            outcome = Outcome.IN_SYNC if plan.in_sync else Outcome.UPDATED
            return GroupResult(group_id, outcome, warnings=list(plan.warnings))
        if plan.in_sync:
            return GroupResult(
                group_id,
                Outcome.IN_SYNC,
                warnings=list(plan.warnings),
                attrs_fingerprint=fingerprint if attrs_read else None,
            )
        return await self._write(plan, live, fingerprint, attrs_read)

    async def _write(self, plan: GroupPlan, live: LiveGroup, fingerprint: str | None, attrs_read: bool) -> GroupResult:
        group_id = plan.group_id
        applied: dict[str, Any] = {}
        failures: list[GroupResult] = []
        attrs_outcome: str | None = fingerprint if attrs_read else None

        async def base() -> None:
            assert plan.base_payload is not None
            try:
                await write_base(self._client, plan.base_payload)
                applied["base"] = {k: v for k, v in plan.base_payload.items() if k != "GroupId"}
            except CredentialsError:
                raise
            except VendorError as exc:
                failures.append(_failure(group_id, exc, "modify_group_base_info"))

        async def attrs() -> None:
            nonlocal attrs_outcome
            assert plan.attrs is not None
            try:
                await write_attrs(self._client, group_id, plan.attrs, live.attrs or {})
                applied["attrs"] = plan.attrs
                attrs_outcome = fingerprint
            except CredentialsError:
                raise
            except VendorError as exc:
                attrs_outcome = ""  # unknown now: read them again next run
                failures.append(_failure(group_id, exc, "set_group_attr"))

        writes = []
        if plan.base_payload is not None:
            writes.append(base())
        if plan.attrs is not None:
            writes.append(attrs())
        await asyncio.gather(*writes)

        if failures:
            first = failures[0]
            first.warnings = list(plan.warnings)
            first.applied = applied or None
            first.attrs_fingerprint = attrs_outcome
            first.error_message = "; ".join(f.error_message or "" for f in failures)
            log.warning("group_failed", group_id=group_id, code=first.error_code, error=first.error_message)
            return first
        log.debug("group_updated", group_id=group_id, fields=[c.field for c in plan.changes])
        return GroupResult(
            group_id,
            Outcome.UPDATED,
            warnings=list(plan.warnings),
            applied=applied,
            attrs_fingerprint=attrs_outcome,
            changes=list(plan.changes),
        )


def _leaves(group: BaseExceptionGroup[BaseException]) -> Sequence[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_leaves(exc))
        else:
            found.append(exc)
    return found
