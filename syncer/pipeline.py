"""The reconciliation pipeline: read desired → fetch live → diff → write → record.

Desired rows stream in pages; valid ones gather into batches of up to 50 that are read, diffed
and written concurrently (bounded by ``batches_in_flight``), so writes for the first batches go
out while later pages are still being read. Outcomes are recorded in batches.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from syncer import ports
from syncer.budget import WriteGate, budget_limit
from syncer.errors import ConfigError, InternalError, Interrupted, Malformed, RunLockLost, SyncerError
from syncer.models import GroupPlan, GroupResult, Outcome
from syncer.ports import PageQuery, PageRow, RunTotals, SeenBatch, Selection, Store, UnchangedBatch
from syncer.quoting import clip, quote
from syncer.savedplan import SavedPlan
from syncer.settings import Settings
from syncer.sharding import shard_of
from syncer.thresholds import Threshold
from syncer.vendor import LiveAnswer, LiveBatch, ReadError, Settled, Target, Vendor, settled_by_digest
from syncer.vendors import desired_setup

log = structlog.get_logger("syncer.pipeline")


_SUMMARY_TAIL = (
    *("unchanged", "batches_unchanged", "would_change", "groups_with_warnings"),
    *("calls", "peak_sends_per_second", "held", "throttled", "retries", "retries_by_cause", "failures_by_cause"),
)


@dataclass
class RunReport:
    mode: str
    shard: str = "0/1"
    run_id: int | None = None
    status: str = "running"
    groups_read: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # by Outcome (a str)
    groups_with_warnings: int = 0
    unchanged: int = 0  # in sync, settled by digest: as they were when last seen in line
    # Batch reads answered byte for byte as when every group in them was last seen in line:
    # each settled its whole batch undecoded.
    batches_unchanged: int = 0
    would_change: int = 0  # plan mode: groups with at least one write planned
    calls: dict[str, int] = field(default_factory=dict)
    peak_sends_per_second: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)  # calls that waited for their limiter, by command
    throttled: int = 0
    retries: int = 0
    retries_by_cause: dict[str, int] = field(default_factory=dict)
    failures_by_cause: Counter[str] = field(default_factory=Counter)  # failed groups, by what their call got
    duration_s: float = 0.0
    error: str | None = None

    @property
    def troubled(self) -> int:
        return self.outcomes[Outcome.REJECTED] + self.outcomes[Outcome.FAILED] + self.outcomes[Outcome.NOT_FOUND]

    def over_thresholds(self, max_rejected: Threshold, max_failed: Threshold) -> list[str]:
        """What left more groups out of line than its threshold allows (empty: nothing)."""
        o = self.outcomes
        over = []
        if not max_rejected.allows(rejected := o[Outcome.REJECTED] + o[Outcome.NOT_FOUND], self.groups_read):
            over.append(f"{rejected} rejected or not found, over --max-rejected {max_rejected}")
        if not max_failed.allows(failed := o[Outcome.FAILED], self.groups_read):
            over.append(f"{failed} failed, over --max-failed {max_failed}")
        return over

    @property
    def exit_code(self) -> int:
        if self.status == "failed":
            return 1
        if self.status == EMPTY:
            return EXIT_EMPTY
        if self.status == OVER_BUDGET:
            return EXIT_OVER_BUDGET
        return 2 if self.status == "partial" else 0

    def summary(self) -> dict[str, Any]:
        """The run's figures by name: `run --json`'s totals, and the run_finished log line's."""
        head = {name: getattr(self, name) for name in ("mode", "run_id", "status", "groups_read")}
        outcomes = {str(k): self.outcomes[k] for k in Outcome}
        tail = {name: getattr(self, name) for name in _SUMMARY_TAIL}
        if self.mode != "plan":
            tail["would_change"] = None
        return {**head, **outcomes, **tail, "duration_s": round(self.duration_s, 3)}

    def totals(self) -> RunTotals:
        o = self.outcomes
        counts = (o[Outcome.IN_SYNC], o[Outcome.UPDATED], o[Outcome.REJECTED], o[Outcome.FAILED], o[Outcome.NOT_FOUND])
        return RunTotals(
            self.status,
            self.groups_read,
            *counts,
            self.groups_with_warnings,
            self.calls,
            self.error,
            o[Outcome.HELD_BACK],
        )


# A full run over a desired relation with no row at all checked nothing: most likely the wrong
# relation (a shadow table, another schema), never a success to report quietly.
EMPTY = "empty"
EXIT_EMPTY = 4
# A run that held back groups once its change budget was spent: a person looks before the rest.
OVER_BUDGET = "over_budget"
EXIT_OVER_BUDGET = 5


class RunObserver(Protocol):
    """Watches a run go by: metrics and progress display plug in here."""

    def run_started(self, report: RunReport, total: int | None) -> None: ...

    def group_finished(self, result: GroupResult) -> None: ...

    def groups_unchanged(self, count: int) -> None:
        """``count`` groups found in line, exactly as last seen (no result object for each)."""
        ...

    def run_finished(self, report: RunReport) -> None: ...


class _Recorder:
    """Buffers group outcomes and writes them in batches: one round trip per batch (two when
    it holds both unchanged groups, recorded by ID alone, and other outcomes)."""

    def __init__(self, store: Store, run_id: int | None, batch_size: int) -> None:
        self._store = store
        self._run_id = run_id
        self._batch_size = batch_size
        self._buffer: list[GroupResult] = []
        self._unchanged: list[UnchangedBatch] = []
        self._unchanged_groups = 0
        self._lock = asyncio.Lock()

    def add(self, result: GroupResult) -> bool:
        """Buffer ``result``; True when the buffer is due to be flushed."""
        self._buffer.append(result)
        return len(self._buffer) + self._unchanged_groups >= self._batch_size

    async def add_unchanged(self, batch: UnchangedBatch, count: int) -> None:
        self._unchanged.append(batch)
        self._unchanged_groups += count
        if len(self._buffer) + self._unchanged_groups >= self._batch_size:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._buffer = self._buffer, []
            unchanged, self._unchanged = self._unchanged, []
            self._unchanged_groups = 0
            if self._run_id is None:
                return
            if batch:
                await self._store.record_groups(self._run_id, batch)
            if unchanged:
                await self._store.record_unchanged(self._run_id, unchanged)


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        vendor: Vendor[Any, Any],
        *,
        dry_run: bool = False,
        on_plan: Callable[[GroupPlan, GroupResult], None] | None = None,
        stop: asyncio.Event | None = None,
        observers: Sequence[RunObserver] = (),
        on_phase: Callable[[str], None] | None = None,
        planned: SavedPlan | None = None,
    ) -> None:
        self._settings = settings
        self._planned = planned  # apply: a saved plan's writes, exactly, to its groups alone
        self._store = store
        self._vendor = vendor
        self._client = vendor.client
        self._dry_run = dry_run
        self._gate = WriteGate(dry_run=dry_run)  # its budget is set once the run knows its rows
        self._on_plan = on_plan
        self._stop = stop or asyncio.Event()
        self._observers = list(observers)
        mode = "plan" if dry_run else "run" if planned is None else "apply" if planned.reverts is None else "revert"
        self.report = RunReport(mode=mode, shard=str(settings.shard))
        self._relation = desired_setup(settings, vendor.name).relation
        self._since: datetime | None = None  # incremental: rows changed after this
        self._targeted: list[str] | None = None  # a targeted run's groups, in order (None: every row)
        self._gone: list[str] = []  # an apply's or a revert's groups whose desired row is gone
        self._lock: ports.RunLock | None = None
        # Told "running" once the run is recorded (a stop from then on is graceful: calls in
        # flight finish, outcomes are recorded), and "done" at the end.
        self._on_phase = on_phase or (lambda phase: None)

    def lock_names(self) -> tuple[str, str | None]:
        """What one run at a time means: one vendor app per database, or one shard of it.

        Returns the lock to hold exclusively and, for a shard, the app's lock to hold shared.
        """
        app = f"syncer.run.{self._vendor.lock_scope()}"
        shard = self._settings.shard
        if not shard.sharded:
            return app, None
        return f"{app}.shard.{shard.index}.of.{shard.count}", app

    async def run(self) -> RunReport:
        """Reconcile once. A run (not a plan) first takes the run lock, before any call."""
        if self._dry_run:
            return await self._run()
        name, within = self.lock_names()
        settings = self._settings
        timings = ports.LockTimings(
            settings.db_connect_timeout_s, settings.lock_heartbeat_s, 2 * settings.lock_heartbeat_s
        )
        async with self._store.run_lock(name, within=within, shard_count=settings.shard.count, timings=timings) as lock:
            self._lock = lock
            await self._outwait_lost_runs(timings)
            return await self._run()

    async def _relation_is_empty(self) -> bool:
        """This shard read nothing: is the whole relation empty (not only this shard's share)?"""
        shard = self._settings.shard
        return not shard.sharded or await self._store.count_desired() == 0

    async def _outwait_lost_runs(self, timings: ports.LockTimings) -> None:
        """A run whose lock went may still be sending until it notices (within
        ``timings.detection_s``): give it that long to stop before this one sends."""
        orphans = await self._store.orphaned_runs()
        if not orphans:
            return
        wait_s = timings.detection_s + 1.0
        log.warning("waiting_for_lost_runs", run_ids=orphans, wait_s=wait_s)
        await asyncio.sleep(wait_s)
        await self._store.abandon_runs(orphans)

    async def _choose_mode(self) -> None:
        """Full or incremental: a first run, or every full_every-th one, is full."""
        if self._dry_run or not self._settings.incremental or self._planned is not None:
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
        await self._choose_targets()
        if not self._dry_run:
            report.run_id = await self._store.start_run(report.mode, shard, self._lock.pid if self._lock else None)
        recorder = _Recorder(self._store, report.run_id, self._settings.record_batch_size)
        # Every line logged from here on, by every batch task, names the run (and its shard).
        structlog.contextvars.bind_contextvars(run_id=report.run_id)
        if shard.sharded:
            structlog.contextvars.bind_contextvars(shard=str(shard))
        try:
            # An incremental run's total is unknown until it is done; a full one's is a cheap count.
            budget = None if self._dry_run else self._settings.max_changes
            counted: int | None
            if self._targeted is not None:
                counted = sum(1 for i in self._targeted if not shard.sharded or shard_of(i, shard.count) == shard.index)
            else:
                counted = await self._store.count_desired(shard) if self._since is None or budget else None
            total = None if self._since is not None and self._targeted is None else counted
            self._gate.limit = budget_limit(budget, counted or 0)
            log.info("run_started", mode=report.mode, groups=total, rate_limits=self._client.limits)
            for observer in self._observers:
                observer.run_started(report, total)
            self._on_phase("running")
            await self._until_stopped(self._phases(recorder))
            await recorder.flush()
            await self._conclude(total)
        except SyncerError as exc:
            report.status = "failed"
            report.error = str(exc)
            await self._record_safely(recorder)
            raise
        except asyncio.CancelledError:
            report.status = "interrupted"  # a stop before the first call: nothing was sent
            raise
        except Exception as exc:
            # Never a run left "running": the row ends failed, naming what went wrong.
            report.status = "failed"
            report.error = f"internal error: {type(exc).__name__}: {clip(str(exc))}"
            await self._record_safely(recorder)
            raise InternalError(report.error) from exc
        finally:
            report.duration_s = time.monotonic() - started
            await self._wrap_up()
        return report

    async def _conclude(self, total: int | None) -> None:
        """The status of a run that went to its end (or was asked to stop)."""
        report = self.report
        if self._stop.is_set():
            report.status = "interrupted"
        elif total == 0 and await self._relation_is_empty():
            report.status = EMPTY
            report.error = f"the desired relation {self._relation} has no row: nothing was checked"
            log.warning("desired_relation_empty", relation=str(self._relation), error=report.error)
        elif stale := report.outcomes[Outcome.STALE]:
            assert self._planned is not None
            report.status = "partial"
            report.error = f"{stale} groups changed since {self._planned.source} (stale) and were not written"
            log.warning("stale_groups", stale=stale, error=report.error)
        elif held := report.outcomes[Outcome.HELD_BACK]:
            report.status = OVER_BUDGET
            report.error = (
                f"the change budget of {self._gate.limit} groups is spent: {held} groups that need writes were "
                "held back; review them (syncer plan), then run with a higher --max-changes"
            )
            log.warning("change_budget_spent", limit=self._gate.limit, held_back=held, error=report.error)
        elif over := report.over_thresholds(self._settings.max_rejected, self._settings.max_failed):
            report.status = "partial"
            report.error = "; ".join(over)
        else:
            report.status = "succeeded"
            if report.troubled:
                log.warning("troubled_groups_within_thresholds", troubled=report.troubled)

    async def _wrap_up(self) -> None:
        """However the run ended: what the client counted, the run's record, the observers, the log."""
        report, client = self.report, self._client
        report.calls = dict(client.calls)
        report.peak_sends_per_second = dict(client.peak_sends_per_second)
        report.held = dict(client.held)
        report.throttled = client.throttled
        report.retries = client.retries
        report.retries_by_cause = dict(client.retry_causes)
        if report.run_id is not None:
            await self._finish_safely()
        for observer in self._observers:
            observer.run_finished(report)
        log.info("run_finished", **report.summary(), error=report.error)
        structlog.contextvars.unbind_contextvars("run_id", "shard")
        self._on_phase("done")

    async def _until_stopped(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work``; once a stop is asked for (or the run lock is lost), send nothing new,
        let calls in flight finish for up to the grace period, then cancel what is left (those
        groups stay unrecorded)."""
        task = asyncio.ensure_future(work)
        waits = {asyncio.ensure_future(self._stop.wait())}
        if self._lock is not None:
            waits.add(asyncio.ensure_future(self._lock.lost.wait()))
        try:
            await asyncio.wait({task, *waits}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                lost = self._lock is not None and self._lock.lost.is_set()
                log.warning("run_stopping", grace_s=self._settings.grace_period_s, lock_lost=lost)
                self._client.stopping.set()
                await asyncio.wait({task}, timeout=self._settings.grace_period_s)
                if not task.done():
                    log.warning("grace_period_over", action="cancelling calls still in flight")
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if lost:
                    assert self._lock is not None
                    raise RunLockLost(
                        f"the run lock was lost: {self._lock.reason}. This run stopped sending, so that no other "
                        "run sends beside it; the next run carries on"
                    )
                if task.cancelled():
                    return
            await task
        finally:
            for wait in waits:
                wait.cancel()

    async def _phases(self, recorder: _Recorder) -> None:
        if self._gone:
            assert self._planned is not None
            message = f"its desired row is gone since {self._planned.source}; not written"
            for group_id in self._gone:
                await self._finish_group(recorder, GroupResult(group_id, Outcome.STALE, None, message))
        if not self._dry_run and self._targeted is None:
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
        """Page through the desired rows, admit each page's rows, and send them out in batches
        of up to ``batch_max``, at most ``batches_in_flight`` at once."""
        slots = asyncio.Semaphore(self._settings.batches_in_flight)
        try:
            async with asyncio.TaskGroup() as tasks:

                async def submit(batch: list[Candidate] | SeenBatch) -> None:
                    await slots.acquire()
                    tasks.create_task(self._holding(slots, batch, recorder))

                batch: list[Candidate] = []
                batch_max = self._vendor.batch_max
                next_page = asyncio.ensure_future(self._page(None, selection))
                while not self._stop.is_set():
                    page = await next_page
                    if not page:
                        break
                    # Read the next page while this one's batches go out.
                    next_page = asyncio.ensure_future(self._page(page[-1].group_id, selection))
                    next_page.add_done_callback(_unawaited)
                    for candidate in await self._admit(page, recorder, submit):
                        batch.append(candidate)
                        if len(batch) == batch_max:
                            await submit(batch)
                            batch = []
                if batch and not self._stop.is_set():
                    await submit(batch)
                next_page.cancel()  # stopping: the pages not read yet are the next run's
        except BaseExceptionGroup as group:
            # Surface the first of our own errors (a fatal one stops every batch).
            for exc in _leaves(group):
                if isinstance(exc, SyncerError):
                    raise exc from None
            raise

    async def _admit(
        self,
        page: list[PageRow | SeenBatch],
        recorder: _Recorder,
        submit: Callable[[SeenBatch], Coroutine[Any, Any, None]],
    ) -> list[Candidate]:
        """The page's groups that go on to a batch read, in order. A seen batch goes out as it
        is; a row last seen in line, unchanged since, goes on undecoded (it was valid then and is
        now); every other row is read in full, decoded and validated, and rejected here if it
        does not pass (no call is made for it)."""
        rows: list[PageRow] = []
        for item in page:
            if isinstance(item, SeenBatch):
                await submit(item)  # a whole batch as last seen in line: read as one
            elif item.wanted:  # not only the cursor's row
                rows.append(item)
        targets = await self._targets([row for row in rows if not row.seen_in_line])
        admitted: list[Candidate] = []
        for row in rows:
            target = row if row.seen_in_line else targets.get(row.group_id)
            if target is None:
                continue  # deleted since its page was read
            self.report.groups_read += 1
            if isinstance(target, GroupResult):
                await self._finish_group(recorder, target)  # does not decode
            elif isinstance(target, PageRow):
                admitted.append(target)
            elif problems := self._vendor.validate(target.desired):
                await self._finish_group(recorder, self._rejected(row.group_id, problems))
            else:
                admitted.append(target)
        return admitted

    async def _targets(self, rows: Sequence[PageRow]) -> dict[str, Target[Any] | GroupResult]:
        """``rows`` decoded, by group ID: a :class:`Target`, or the rejection of a row that does
        not decode. A row the page did not read in full is read now; one deleted since its page
        was read is missing."""
        unread = [row.group_id for row in rows if row.profile is None or row.desired_digest is None]
        records = await self._store.read_desired(unread) if unread else {}
        decode = self._vendor.decode
        found: dict[str, Target[Any] | GroupResult] = {}
        for row in rows:
            group_id, digest, profile = row.group_id, row.desired_digest, row.profile
            if profile is None or digest is None:
                record = records.get(group_id)
                if record is None:
                    continue
                digest, profile = record.desired_digest, record.profile
            try:
                found[group_id] = Target(group_id, row, decode(group_id, profile), digest)
            except Malformed as exc:
                found[group_id] = self._rejected(group_id, [str(exc)])
        return found

    async def _page(self, after: str | None, selection: Selection) -> list[PageRow | SeenBatch]:
        only = None
        if self._targeted is not None:  # the next page's worth of targets, past the cursor
            start = 0 if after is None else bisect.bisect_right(self._targeted, after)
            only = tuple(self._targeted[start : start + self._settings.page_size])
            if not only:
                return []
        query = PageQuery(
            self.report.run_id, selection, self._since, self._settings.shard, self._vendor.batch_max, only
        )
        return await self._store.read_desired_page(after, self._settings.page_size, query)

    async def _choose_targets(self) -> None:
        """A targeted run (``--group``, ``--where``): its groups, in order, chosen once before any
        call. An ID with no desired row is a typo far more often than not: the run stops, naming it."""
        settings = self._settings
        if not settings.targets and settings.target_filter is None:
            return
        self._targeted, unknown = await self._store.targets(
            settings.targets, settings.target_filter, self._relation.sql
        )
        if unknown and self._planned is not None:
            self._gone = unknown  # a planned group whose row is gone since: stale, reported, not written
        elif unknown:
            shown = ", ".join(quote(i) for i in unknown[:10]) + (
                f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            )
            raise ConfigError(f"--group: {len(unknown)} not in the desired relation {self._relation}: {shown}")
        log.info("targeted", groups=len(self._targeted))

    def _rejected(self, group_id: str, problems: list[str]) -> GroupResult:
        message = f"group {quote(group_id)}: " + "; ".join(problems)
        log.warning("group_rejected", group_id=clip(group_id), error=message)
        return GroupResult(group_id, Outcome.REJECTED, None, message)

    async def _finish_group(self, recorder: _Recorder, result: GroupResult) -> None:
        if self._noted(recorder, result):
            await recorder.flush()

    def _noted(self, recorder: _Recorder, result: GroupResult) -> bool:
        """Count, show and buffer a group's outcome; True when the buffer is due to be flushed.
        (Not a coroutine: it runs for every group.)"""
        self.report.outcomes[result.outcome] += 1
        if result.outcome is Outcome.FAILED:
            cause = result.cause or (str(result.error_code) if result.error_code is not None else "other")
            self.report.failures_by_cause[cause] += 1
        if result.warnings:
            self.report.groups_with_warnings += 1
        for observer in self._observers:
            observer.group_finished(result)
        return not self._dry_run and recorder.add(result)

    def _noted_settled(self, recorder: _Recorder, settled: Settled) -> bool:
        """As :meth:`_noted`, for a diffed group: a plan shows its plan."""
        plan = settled.plan
        if self._dry_run and plan is not None:
            if not plan.in_sync:
                self.report.would_change += 1
            if self._on_plan is not None:
                self._on_plan(plan, settled.result)
        return self._noted(recorder, settled.result)

    async def _finish_unchanged(
        self, recorder: _Recorder, group_ids: str, count: int, answer_digest: str | None
    ) -> None:
        """``count`` groups (``group_ids``, one per line) found as last seen in line, in the
        batch answer whose digest is ``answer_digest``."""
        self.report.outcomes[Outcome.IN_SYNC] += count
        self.report.unchanged += count
        for observer in self._observers:
            observer.groups_unchanged(count)
        if not self._dry_run:
            await recorder.add_unchanged(UnchangedBatch(group_ids, answer_digest), count)

    async def _holding(self, slots: asyncio.Semaphore, batch: list[Candidate] | SeenBatch, recorder: _Recorder) -> None:
        try:
            if isinstance(batch, SeenBatch):
                await self._seen_batch(batch, recorder)
            else:
                live = await self._vendor.fetch_live([c.group_id for c in batch], [_page_row(c) for c in batch])
                await self._batch(batch, live, recorder)
        except Interrupted:
            return  # stopping: the next run reads these groups
        finally:
            slots.release()

    async def _seen_batch(self, seen: SeenBatch, recorder: _Recorder) -> None:
        """A whole batch last seen in line in one answer: one read settles it if the answer is
        byte for byte that one. Otherwise, or with attributes due for their re-check, each of
        its groups is looked at on its own."""
        vendor = self._vendor
        group_ids = seen.group_ids
        live = None
        if vendor.settles_by_digest(seen):
            live = await vendor.fetch_live(group_ids, (seen,), same_as=seen.answer_digest)
            if live.groups is None:
                self.report.groups_read += len(group_ids)
                self.report.batches_unchanged += 1
                await self._finish_unchanged(recorder, seen.group_ids_text, len(group_ids), live.digest)
                return
        rows = await self._store.read_seen_rows(group_ids)  # a row deleted since is left out
        self.report.groups_read += len(rows)
        if not rows:
            return
        if live is None:
            live = await vendor.fetch_live([row.group_id for row in rows], rows)
        await self._batch(list(rows), live, recorder)

    async def _batch(self, batch: Sequence[Candidate], live: LiveBatch, recorder: _Recorder) -> None:
        """Settle each group of a batch from its answer. Most groups of a routine run are as
        they were last seen in line: those are done at a glance. The others are decoded and
        diffed once (:meth:`_settle`); only those that must read more or write get a task."""
        answers = live.groups
        assert answers is not None  # read without same_as: always decoded
        unchanged, rest = self._as_last_seen(batch, answers)
        targets = await self._targets([c for c, _ in rest if isinstance(c, PageRow)])
        pending = []
        for candidate, answer in rest:
            target = candidate if isinstance(candidate, Target) else targets.get(candidate.group_id)
            if target is None:
                continue  # deleted since its page was read: no longer this run's to sync
            decision = target if isinstance(target, GroupResult) else self._settle(target, answer)
            if isinstance(decision, GroupResult):
                await self._finish_group(recorder, decision)
            elif isinstance(decision, Settled):
                if self._noted_settled(recorder, decision):
                    await recorder.flush()
            else:
                pending.append(self._group(target.group_id, decision))
        if unchanged:
            await self._finish_unchanged(recorder, "\n".join(unchanged), len(unchanged), live.digest)
        for settled in await asyncio.gather(*pending):
            if settled is not None and self._noted_settled(recorder, settled):
                await recorder.flush()

    def _as_last_seen(
        self, batch: Sequence[Candidate], answers: Mapping[str, LiveAnswer | ReadError]
    ) -> tuple[list[str], list[tuple[Candidate, LiveAnswer | ReadError]]]:
        """The batch's groups found as last seen in line (by ID), and the others with their answers."""
        vendor = self._vendor
        unchanged: list[str] = []
        rest: list[tuple[Candidate, LiveAnswer | ReadError]] = []
        for candidate in batch:
            answer = answers[candidate.group_id]
            if settled_by_digest(_page_row(candidate), answer, vendor):
                unchanged.append(candidate.group_id)
            else:
                rest.append((candidate, answer))
        return unchanged, rest

    def _settle(self, target: Target[Any], answer: LiveAnswer | ReadError) -> Settled | Coroutine[Any, Any, Settled]:
        """What the group's answer decides: a failed read or an answer that does not parse ends
        the group here, named; otherwise its vendor diffs it."""
        vendor = self._vendor
        group_id = target.group_id
        if isinstance(answer, ReadError):
            outcome = Outcome.NOT_FOUND if answer.not_found else Outcome.FAILED
            log.warning("group_read_failed", group_id=group_id, code=answer.code, error=answer.message)
            message = f"{vendor.read_command}: {answer.message}"
            return Settled(GroupResult(group_id, outcome, answer.code, message, cause=answer.cause))
        try:
            live = vendor.parse_live(answer.raw)
        except Malformed as exc:
            log.warning("group_read_failed", group_id=group_id, code=None, error=str(exc))
            return Settled(GroupResult(group_id, Outcome.FAILED, None, str(exc), cause="bad_answer"))
        try:
            if self._planned is None:
                return vendor.settle(target, live, answer, self._gate)
            planned = self._planned.groups[group_id]
            if planned.desired_digest is not None and target.desired_digest != planned.desired_digest:
                message = "its desired row changed since the plan; not written (plan again)"
                return Settled(GroupResult(group_id, Outcome.STALE, None, message), planned.plan)
            decision = vendor.apply_planned(target, live, planned.plan, self._gate)
            if self._planned.reverts is None:
                return decision
            return (
                _as_reverted(decision, target.desired_digest)
                if isinstance(decision, Settled)
                else (_reverted_when_done(decision, target.desired_digest))
            )
        except Exception as exc:
            return Settled(_unforeseen(group_id, exc))

    async def _group(self, group_id: str, calls: Coroutine[Any, Any, Settled]) -> Settled | None:
        """The group's outcome once its calls are done, or None if a stop came first."""
        try:
            return await calls
        except Interrupted:
            return None
        except SyncerError:
            raise  # about the run, not this group (credentials refused, say)
        except Exception as exc:
            return Settled(_unforeseen(group_id, exc))


# A group on its way to a batch read: a page row last seen in line (undecoded), or a target.
Candidate = PageRow | Target[Any]


def _page_row(candidate: Candidate) -> PageRow:
    return candidate if isinstance(candidate, PageRow) else candidate.page


def _as_reverted(settled: Settled, desired_digest: str) -> Settled:
    """A revert's outcome: a group written back is held (until its desired row changes, which
    the digest recorded here tells); a group changed since the run is a conflict, left alone."""
    result = settled.result
    if result.outcome == Outcome.UPDATED:
        result.outcome = Outcome.REVERTED
        result.desired_digest = desired_digest
    elif result.outcome == Outcome.STALE:
        result.error_message = f"a conflict: {result.error_message}"
    return settled


async def _reverted_when_done(calls: Coroutine[Any, Any, Settled], desired_digest: str) -> Settled:
    return _as_reverted(await calls, desired_digest)


def _unforeseen(group_id: str, exc: Exception) -> GroupResult:
    """A group whose handling raised what nothing foresaw (a vendor answer of a shape no check
    caught, say): it fails, named, and every other group proceeds."""
    message = f"internal error: {type(exc).__name__}: {clip(str(exc))}"
    log.error("group_failed", group_id=group_id, code=None, error=message)
    return GroupResult(group_id, Outcome.FAILED, None, message, cause="internal_error")


def _unawaited(page: asyncio.Future[Any]) -> None:
    # A page read ahead that nobody awaits (the run stopped, or failed first): its error, if
    # any, is the run's no longer.
    if not page.cancelled():
        page.exception()


def _leaves(group: BaseExceptionGroup[BaseException]) -> Sequence[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_leaves(exc))
        else:
            found.append(exc)
    return found
