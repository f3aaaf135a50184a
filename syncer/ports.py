"""The ports: what the pipeline, the database edge and the vendors share, and what the pipeline
needs of a store. Nothing here does I/O or knows Postgres.

A run reads a page of desired rows (:class:`PageRow`, or a :class:`SeenBatch` for a whole batch
last seen in line in one answer), reads in full (:class:`DesiredRecord`) only the rows it must
look at closely, and records outcomes (:class:`syncer.models.GroupResult`, or an
:class:`UnchangedBatch` for groups found exactly as last seen in line). Every value here is
immutable once made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

from syncer.models import FieldChange, GroupResult, JournalEntry
from syncer.sharding import UNSHARDED, Shard

Selection = Literal["all", "failed", "changed"]


class ReadHints(Protocol):
    """What a vendor's batch read and its attribute re-check need to know of a desired row, or
    of a whole seen batch, without decoding it (each vendor's view supplies these)."""

    @property
    def shape(self) -> str | None:
        """What the batch read must ask for (a seen batch: each distinct shape, one per line)."""
        ...

    @property
    def manages_attrs(self) -> bool:
        """The group (a seen batch: any of its groups) has a set read apart from the batch read."""
        ...

    @property
    def attrs_checked_age_s(self) -> float | None:
        """Seconds since that set was last confirmed live (a seen batch: the oldest; None: never)."""
        ...


class PageRow(NamedTuple):
    """One desired row as a page query answered it: enough to settle a group found exactly as it
    was last seen in line. A wanted row not seen so comes read in full (``desired_digest`` and
    ``profile``); any other row's profile is read, as a :class:`DesiredRecord`, only if its
    group turns out to need a closer look."""

    group_id: str
    wanted: bool  # False: the page's last row, returned only to carry the cursor on
    live_digest: str | None  # the answer's digest when last seen in line, while the row is the one seen then
    answer_digest: str | None  # the whole batch answer's then (same condition)
    attrs_fingerprint: str | None
    attrs_checked_age_s: float | None
    shape: str | None
    manages_attrs: bool
    desired_digest: str | None = None  # with the profile, else None
    profile: str | None = None  # the managed columns as one JSON object (the view's); see DesiredRecord

    @property
    def seen_in_line(self) -> bool:
        """The row is the one a run last saw in line (so it was valid then, and is now)."""
        return self.live_digest is not None


class SeenBatch(NamedTuple):
    """A whole batch of groups a run last saw in line in one batch answer, each desired row
    unchanged since, answered by the page query as one row (the only place that decides so).
    Read again as that batch, one answer byte for byte the same settles them all; only otherwise
    are they looked at one by one (:meth:`Store.read_seen_rows`)."""

    group_id: str  # the batch's first: where it falls in the page
    answer_digest: str
    group_ids_text: str  # every ID of the batch in order, one per line
    shape: str | None
    manages_attrs: bool
    attrs_checked_age_s: float | None

    @property
    def group_ids(self) -> list[str]:
        return self.group_ids_text.split("\n")


class DesiredRecord(NamedTuple):
    """A desired row read in full: its managed columns as one JSON object (``profile``, which
    the vendor decodes), and their digest."""

    group_id: str
    desired_digest: str
    profile: str


class UnchangedBatch(NamedTuple):
    """Groups found exactly as they were last seen in line, all in one batch answer: their IDs,
    one per line, and the digest of that answer (None for none)."""

    group_ids: str
    answer_digest: str | None


@dataclass(frozen=True, slots=True)
class RunTotals:
    status: str
    groups_read: int
    in_sync: int
    updated: int
    rejected: int
    failed: int
    not_found: int
    warnings: int
    calls: dict[str, int]
    error: str | None = None
    held_back: int = 0


@dataclass(slots=True)
class RunLock:
    """A held run lock: the backend that holds it (recorded with the run: while that backend
    lives, the run does), and ``lost``, set once the lock can no longer be shown to be held."""

    pid: int
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LockTimings:
    connect_timeout_s: float = 10.0
    heartbeat_s: float = 1.0
    check_timeout_s: float = 2.0

    @property
    def detection_s(self) -> float:
        """How long a holder may take to notice its lock went."""
        return self.heartbeat_s + self.check_timeout_s


@dataclass(frozen=True, slots=True)
class PageQuery:
    """Which of a page's rows a read wants. ``selection``: every row, only those the last run
    left ``failed``, or only those ``changed`` since ``since`` (plus never synced and not in
    line). Rows already recorded by ``run_id``, and those of other shards, are not wanted.
    ``whole_batch``: the vendor's batch size; the rows of a whole batch last seen in line in one
    answer, each unchanged since, come as one :class:`SeenBatch` (0: never)."""

    run_id: int | None = None
    selection: Selection = "all"
    since: datetime | None = None
    shard: Shard = UNSHARDED
    whole_batch: int = 0
    only: tuple[str, ...] | None = None  # a targeted run's next targets, in order (None: every row)


EVERY_ROW = PageQuery()


class Store(Protocol):
    """What the pipeline needs from the database, for one vendor's desired relation and records.
    :class:`syncer.db.store.PgStore` is the real one; tests/memstore.py keeps it in memory, and
    tests/test_store_contract.py holds both to the same contract."""

    async def read_desired_page(
        self, after: str | None, limit: int, query: PageQuery = EVERY_ROW
    ) -> list[PageRow | SeenBatch]:
        """The next ``limit`` rows in group_id order after ``after`` (None: from the start),
        wanted as ``query`` says, each wanted row not seen in line read in full. The last row of
        a page may be one that is not wanted: it only carries the cursor on."""
        ...

    async def targets(
        self, group_ids: Sequence[str], where: str | None, relation: str = ""
    ) -> tuple[list[str], list[str]]:
        """A targeted run's groups, in order: those of ``group_ids`` that have a desired row, and
        those the filter ``where`` selects (SQL over the desired relation ``relation``, run
        read-only); and the IDs of ``group_ids`` that have none. :class:`syncer.errors.ConfigError`
        for a filter Postgres refuses, with its message."""
        ...

    async def read_seen_rows(self, group_ids: Sequence[str]) -> list[PageRow]:
        """The page rows of the groups named, one by one, in group_id order, as a page has them
        (a row deleted since is missing)."""
        ...

    async def run_changes(self, run_id: int) -> dict[str, list[FieldChange]]:
        """What run ``run_id`` wrote, by group, in order, from the change journal: each change's
        ``old`` the value it replaced, ``new`` the value it wrote."""
        ...

    async def history(self, group_id: str, limit: int = 100) -> list[JournalEntry]:
        """The group's entries in the change journal, newest first, at most ``limit``."""
        ...

    async def read_desired(self, group_ids: Sequence[str]) -> dict[str, DesiredRecord]:
        """The named rows in full, by group ID (a row deleted since is missing)."""
        ...

    async def count_desired(self, shard: Shard = UNSHARDED) -> int: ...

    async def last_completed_run(self, shard: Shard = UNSHARDED) -> tuple[datetime | None, int]:
        """Start of this shard's last run that went to its end, and its incremental runs since
        its last full one."""
        ...

    def run_lock(
        self, name: str, *, within: str | None = None, shard_count: int = 1, timings: LockTimings | None = None
    ) -> AbstractAsyncContextManager[RunLock]: ...

    async def orphaned_runs(self) -> list[int]: ...

    async def abandon_runs(self, run_ids: Sequence[int]) -> None: ...

    async def start_run(self, mode: str, shard: Shard = UNSHARDED, lock_pid: int | None = None) -> int: ...

    async def record_groups(self, run_id: int, results: Sequence[GroupResult]) -> None: ...

    async def record_unchanged(self, run_id: int, batches: Sequence[UnchangedBatch]) -> None: ...

    async def finish_run(self, run_id: int, totals: RunTotals) -> None: ...
