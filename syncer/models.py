"""Domain models: what a group should be, what it is, and what happened to it."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Outcome(enum.StrEnum):
    IN_SYNC = "in_sync"
    UPDATED = "updated"
    REJECTED = "rejected"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    HELD_BACK = "held_back"  # needed writes, not sent: the run's change budget was spent
    STALE = "stale"  # a saved plan's group that changed since it was planned: not written
    REVERTED = "reverted"  # written back to before a run; held until its desired row changes


@dataclass(slots=True)  # not frozen: one per group, and a frozen __init__ is dearer
class FieldChange:
    field: str  # the vendor's field name, or "<field>.<key>" for one key of a set ("GroupAttr.topic")
    old: Any
    new: Any


@dataclass(slots=True)  # not frozen: one per group, and a frozen __init__ is dearer
class GroupPlan:
    """The minimal writes that bring one group in line, and what the diff noticed on the way."""

    group_id: str
    base_payload: dict[str, Any] | None  # the main write's body, or None when nothing differs
    attrs: dict[str, str] | None  # Tencent: the complete attribute set to apply, or None when in line
    changes: tuple[FieldChange, ...] = ()
    warnings: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()  # the write calls this plan takes, by command name

    @property
    def in_sync(self) -> bool:
        return self.base_payload is None and self.attrs is None


@dataclass(slots=True)
class GroupResult:
    """The outcome of one group in one run, as recorded in Postgres."""

    group_id: str
    outcome: Outcome
    error_code: int | None = None
    error_message: str | None = None
    warnings: list[str] = field(default_factory=list)
    applied: dict[str, Any] | None = None  # what this run wrote and the vendor confirmed
    # The attribute set confirmed live this run (its fingerprint); "" forgets what was known,
    # so the next run reads the attributes again; None leaves the record as it was.
    attrs_fingerprint: str | None = None
    changes: list[FieldChange] = field(default_factory=list)  # written, and the vendor confirmed them
    unknown: Sequence[FieldChange] = ()  # written, no answer: may have applied
    # Set when the group was seen in line with nothing to warn about: the desired row's digest
    # and the vendor's answer's. While both stay the same, later runs need not look closer.
    desired_digest: str | None = None
    live_digest: str | None = None
    answer_digest: str | None = None  # the whole batch answer's (see syncer/vendor.py)
    cause: str | None = None  # a failure's, as the summary counts it (None: by its code)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One field a run wrote to a group: the value it read before and the value it wrote (None:
    absent), and whether the vendor confirmed it (``applied``) or never answered (``unknown``)."""

    at: datetime
    run_id: int
    field: str
    before: Any
    after: Any
    outcome: str


def journal_of(result: GroupResult) -> Sequence[tuple[str, Any, Any, str]]:
    """What a group's outcome puts in the change journal: each change written, confirmed or not."""
    if not result.changes and not result.unknown:
        return ()  # most groups: nothing written
    return [(c.field, c.old, c.new, "applied") for c in result.changes] + [
        (c.field, c.old, c.new, "unknown") for c in result.unknown
    ]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One row of sync_runs, as `syncer status` shows it."""

    run_id: int
    vendor: str
    mode: str
    status: str
    shard: str  # "index/count"
    started_at: datetime
    finished_at: datetime | None
    groups_read: int
    outcomes: Mapping[str, int]
    calls: Mapping[str, int]
    error: str | None
    changes: int = 0  # entries it put in the change journal


@dataclass(frozen=True, slots=True)
class TroubledGroup:
    """A group whose last outcome left it out of line: failed, rejected or not found."""

    vendor: str
    group_id: str
    outcome: str
    error_code: int | None
    error_message: str | None
    attempts: int  # consecutive runs that left it out of line
    last_success_at: datetime | None
    since: datetime  # when this outcome was recorded


@dataclass(frozen=True, slots=True)
class Status:
    runs: list[RunRecord]
    groups_by_outcome: Mapping[str, Mapping[str, int]]  # vendor → outcome → groups
    troubled: list[TroubledGroup]
