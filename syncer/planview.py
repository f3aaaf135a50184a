"""How `syncer plan` shows a plan, as `terraform plan` does: the totals, a roll-up by field, each
group's changes (a set's keys one by one, sorted), then the groups that cannot be planned and
why. For people (text) and for scripts (``--json``: the same, as JSON lines)."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from syncer.models import FieldChange, GroupPlan, GroupResult, Outcome
from syncer.output import Column, Output, Table
from syncer.pipeline import RunReport
from syncer.report import print_summary, show_value

# Each group's lines wait in a spool (on disk past a few MB), so that the totals come first and a
# plan over a million groups costs no memory.
_SPOOL_BYTES = 4 << 20
_UNPLANNED = frozenset({Outcome.REJECTED, Outcome.NOT_FOUND, Outcome.FAILED})
_ATTRIBUTE_SETS = ("GroupAttr",)  # written whole: counted as one field in the roll-up


def family(field: str) -> str:
    """What the roll-up counts a change under: the field, or ``field.key`` for one key of a set;
    an attribute set, written whole, as one."""
    head = field.split(".", 1)[0]
    return head if head in _ATTRIBUTE_SETS else field


def group_lines(plan: GroupPlan, *, full: bool = False) -> list[str]:
    """One group's changes: ``~ group``, then each field ``old → new``, and each key of a set
    under its set as ``+ key = new``, ``- key`` or ``~ key: old → new``, keys sorted."""
    lines = [f"~ {plan.group_id}"]
    keyed: dict[str, list[FieldChange]] = {}
    for change in plan.changes:
        head, dot, _ = change.field.partition(".")
        if dot:
            keyed.setdefault(head, []).append(change)
        else:
            lines.append(
                f"    {change.field}: {show_value(change.old, full=full)} → {show_value(change.new, full=full)}"
            )
    for head, changes in keyed.items():
        lines.append(f"    {head}:")
        for change in sorted(changes, key=lambda c: c.field):
            key = change.field.partition(".")[2]
            if change.old is None:
                lines.append(f"      + {key} = {show_value(change.new, full=full)}")
            elif change.new is None:
                lines.append(f"      - {key}")
            else:
                old, new = show_value(change.old, full=full), show_value(change.new, full=full)
                lines.append(f"      ~ {key}: {old} → {new}")
    lines += [f"    ! {warning}" for warning in plan.warnings]
    return lines


class PlanView:
    """Collects a plan as the run streams it (``group_planned`` for each diffed group, and the
    run's observer calls for the groups it could not plan), then writes it all in order."""

    def __init__(self, groups: IO[str], troubled: IO[str], *, as_json: bool = False, full_values: bool = False) -> None:
        self.as_json = as_json
        self.full_values = full_values
        self.by_field: Counter[str] = Counter()  # groups that change each field
        self.unplanned = 0
        self._groups = groups  # where each group's lines wait
        self._troubled = troubled

    def group_planned(self, plan: GroupPlan, result: GroupResult) -> None:
        if plan.in_sync and not plan.warnings:
            return
        self.by_field.update({family(c.field) for c in plan.changes})
        if self.as_json:
            doc = {
                "group_id": plan.group_id,
                "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in plan.changes],
                "warnings": list(plan.warnings),
                "calls": list(plan.calls),
            }
            self._groups.write(json.dumps(doc, ensure_ascii=False) + "\n")
        else:
            self._groups.write("\n".join(group_lines(plan, full=self.full_values)) + "\n")

    # -- the run's observer: the groups a plan cannot plan ----------------------------------------

    def run_started(self, report: RunReport, total: int | None) -> None:
        pass

    def group_finished(self, result: GroupResult) -> None:
        if result.outcome not in _UNPLANNED:
            return
        self.unplanned += 1
        if self.as_json:
            doc = {"group_id": result.group_id, "outcome": str(result.outcome), "reason": result.error_message}
            self._troubled.write(json.dumps(doc, ensure_ascii=False) + "\n")
        else:
            self._troubled.write(f"  {result.outcome}: {result.error_message}\n")

    def groups_unchanged(self, count: int) -> None:
        pass

    def run_finished(self, report: RunReport) -> None:
        pass

    # -- the plan, in order ------------------------------------------------------------------------

    def write(self, report: RunReport, out: Output) -> None:
        """Totals, the roll-up by field, the groups, then the groups not planned with why."""
        by_field = sorted(self.by_field.items(), key=lambda item: (-item[1], item[0]))
        if self.as_json:
            out.stream.write(json.dumps({"totals": report.summary(), "by_field": dict(by_field)}) + "\n")
            _copy(self._groups, out.stream.write)
            _copy(self._troubled, out.stream.write)
            return
        print_summary(report, out)
        if by_field:
            out.line()
            out.line("changes by field (groups)")
            out.table(Table((Column("field"), Column("groups", "number")), by_field, header=False, indent=2))
            out.line()
        _copy(self._groups, out.plan_line if out.color else out.stream.write)
        if self.unplanned:
            out.line()
            out.line(f"not planned ({self.unplanned:,}): rejected rows and groups that could not be read")
            _copy(self._troubled, out.stream.write)


def _copy(spool: IO[str], write: Callable[[str], object]) -> None:
    spool.seek(0)
    for line in spool:
        write(line)


@contextmanager
def plan_view(*, as_json: bool, full_values: bool) -> Iterator[PlanView]:
    """A view whose groups wait in spools (on disk past a few MB) until it is written."""
    with _spool() as groups, _spool() as troubled:
        yield PlanView(groups, troubled, as_json=as_json, full_values=full_values)


def _spool() -> tempfile.SpooledTemporaryFile[str]:
    return tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+", encoding="utf-8")


def detailed_exit_code(report: RunReport) -> int:
    """``--detailed-exitcode``, as Terraform's: 0 nothing to change, 2 changes pending, 1 an error."""
    if report.status == "failed":
        return 1
    return 2 if report.would_change else 0
