"""The change budget: how many groups one run may write to. An unattended run that meets a
desired table an upstream bug has just rewritten changes at most that many groups before a
person looks; the rest are held back, recorded, and the run says so (exit 5)."""

from __future__ import annotations

import math

from syncer.thresholds import Threshold


class WriteGate:
    """Whether a diffed group's writes go out: never in a plan (``dry_run``); in a run, while the
    budget lasts. A group is admitted before its first write, so that however many writes are
    in flight no more than ``limit`` groups are ever written to (a write that fails still
    counts: it may have applied)."""

    __slots__ = ("admitted", "dry_run", "held_back", "limit")

    def __init__(self, *, dry_run: bool = False, limit: int | None = None) -> None:
        self.dry_run = dry_run
        self.limit = limit  # None: no budget
        self.admitted = 0
        self.held_back = 0

    def admit(self) -> bool:
        """Take one group's place in the budget: False, counted as held back, once it is spent."""
        if self.limit is not None and self.admitted >= self.limit:
            self.held_back += 1
            return False
        self.admitted += 1
        return True


def budget_limit(budget: Threshold | None, desired_rows: int) -> int | None:
    """The number of groups a budget allows: a count, or a share of the run's desired rows
    (rounded up, so that any share of a non-empty relation allows a write)."""
    if budget is None:
        return None
    if budget.percent is None:
        return budget.count
    return math.ceil(desired_rows * budget.percent / 100)
