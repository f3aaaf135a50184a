"""What `run` and `plan` print for people (stdout) and scripts (--json)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from syncer.db.migrator import MigrationState
from syncer.models import JournalEntry, Outcome, Status
from syncer.output import Cell, Column, Output, Table
from syncer.pipeline import RunReport


def show_value(value: Any, *, full: bool = False, width: int = 60) -> str:
    """A value as a literal; a long one shortened in the middle, with its length."""
    text = "∅" if value is None else repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if full or len(text) <= width:
        return text
    return f"{text[: width // 2]}…{text[-(width // 4) :]} ({len(text):,} characters)"


def _by_cause(counts: Mapping[str, int]) -> str:
    """``(no_answer 12, http_502 3)``: the most frequent first; nothing when there is none."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return "(" + ", ".join(f"{cause} {n:,}" for cause, n in ranked) + ")" if ranked else ""


def _calls_text(calls: Mapping[str, int]) -> str:
    return ", ".join(f"{c} {n:,}" for c, n in sorted(calls.items()))


def print_summary(report: RunReport, out: Output, *, as_json: bool = False) -> None:
    o = report.outcomes
    if as_json:
        out.stream.write(json.dumps({"totals": report.summary()}) + "\n")
        return
    title = f"run {report.run_id}" if report.run_id is not None else report.mode
    out.line(f"{title}: {out.styled(report.status, report.status)} in {report.duration_s:.2f} s")
    changed = ("would change", report.would_change) if report.mode == "plan" else ("changed", o[Outcome.UPDATED])
    rows: list[tuple[str, int | None, str, str | None]] = [
        ("groups read", report.groups_read, "", None),
        ("in sync", o[Outcome.IN_SYNC], f"({report.unchanged:,} as last seen, by digest)", None),
        (*changed, "", "green" if changed[1] else None),
        ("rejected", o[Outcome.REJECTED], "", "yellow" if o[Outcome.REJECTED] else None),
        ("failed", o[Outcome.FAILED], _by_cause(report.failures_by_cause), "red" if o[Outcome.FAILED] else None),
        ("not found", o[Outcome.NOT_FOUND], "", "yellow" if o[Outcome.NOT_FOUND] else None),
        ("held back", o[Outcome.HELD_BACK], "", "yellow" if o[Outcome.HELD_BACK] else None),
        ("with warnings", report.groups_with_warnings, "", None),
        ("calls", sum(report.calls.values()), _calls_text(report.calls), None),
        ("busiest second", None, _calls_text(report.peak_sends_per_second) or "none", None),
        ("throttled", report.throttled, "", "red" if report.throttled else None),
        ("retries", report.retries, _by_cause(report.retries_by_cause), None),
    ]
    columns = (Column("what"), Column("count", "number"), Column("detail", "message"))
    table = Table(
        columns,
        [(what, "" if n is None else n, detail) for what, n, detail, _ in rows],
        header=False,
        indent=2,
        row_styles=[style for *_, style in rows],
    )
    out.table(table)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _took(start: datetime, end: datetime | None) -> str:
    return "-" if end is None else f"{(end - start).total_seconds():,.1f}s"


# `syncer status`'s tables; on a narrow terminal the highest drop_rank goes first.
_RUN_COLUMNS = (
    Column("RUN", "number"),
    Column("VENDOR", drop_rank=5),
    Column("MODE", drop_rank=7),
    Column("SHARD", drop_rank=6),
    Column("STATUS", "status"),
    Column("STARTED"),
    Column("TOOK", "number", drop_rank=1),
    Column("READ", "number"),
    Column("IN SYNC", "number"),
    Column("CHANGED", "number"),
    Column("REJECTED", "number"),
    Column("FAILED", "number"),
    Column("NOT FOUND", "number", drop_rank=3),
    Column("HELD", "number", drop_rank=4),
    Column("CALLS", "number", drop_rank=2),
    Column("JOURNALED", "number", drop_rank=8),
)
_TROUBLED_COLUMNS = (
    Column("VENDOR", drop_rank=2),
    Column("GROUP"),
    Column("OUTCOME", "status"),
    Column("CODE", "number"),
    Column("RUNS", "number", drop_rank=1),
    Column("LAST IN LINE", drop_rank=3),
    Column("ERROR", "message"),
)
_TROUBLED = (Outcome.FAILED, Outcome.REJECTED, Outcome.NOT_FOUND, Outcome.HELD_BACK, Outcome.STALE, Outcome.REVERTED)


def print_status(status: Status, out: Output, *, as_json: bool = False) -> None:
    """The last runs, then the groups out of line with their errors; times in UTC."""
    if as_json:
        doc = {
            "runs": [
                {
                    "run_id": r.run_id,
                    "vendor": r.vendor,
                    "mode": r.mode,
                    "status": r.status,
                    "shard": r.shard,
                    "started_at": _iso(r.started_at),
                    "finished_at": _iso(r.finished_at),
                    "groups_read": r.groups_read,
                    **r.outcomes,
                    "calls": dict(r.calls),
                    "error": r.error,
                    "journaled": r.changes,
                }
                for r in status.runs
            ],
            "groups_by_outcome": {v: dict(c) for v, c in status.groups_by_outcome.items()},
            "troubled": [
                {
                    "vendor": g.vendor,
                    "group_id": g.group_id,
                    "outcome": g.outcome,
                    "error_code": g.error_code,
                    "error_message": g.error_message,
                    "attempts": g.attempts,
                    "last_success_at": _iso(g.last_success_at),
                    "since": _iso(g.since),
                }
                for g in status.troubled
            ],
        }
        out.stream.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    out.line("last runs (UTC)", "bold")
    if status.runs:
        rows: list[list[Cell]] = [
            [
                str(r.run_id),  # an ID, not an amount: no separators
                r.vendor,
                r.mode,
                r.shard,
                r.status,
                _when(r.started_at),
                _took(r.started_at, r.finished_at),
                r.groups_read,
                r.outcomes["in_sync"],
                r.outcomes["updated"],
                r.outcomes["rejected"],
                r.outcomes["failed"],
                r.outcomes["not_found"],
                r.outcomes.get("held_back", 0),
                sum(r.calls.values()),
                r.changes,
            ]
            for r in status.runs
        ]
        out.table(Table(_RUN_COLUMNS, rows))
        errors = [(r.run_id, r.error) for r in status.runs if r.error]
        if errors:
            out.table(
                Table(
                    (Column("run"), Column("error", "message")),
                    [(f"run {n}:", e) for n, e in errors],
                    header=False,
                    indent=2,
                )
            )
    else:
        out.line("  no run yet")
    out.line()
    for vendor, counts in sorted(status.groups_by_outcome.items()):
        words = ", ".join(f"{out.styled(k, k)} {counts[k]:,}" for k in sorted(counts))
        out.line(f"{vendor} groups: {words}")
    if not status.groups_by_outcome:
        out.line("groups: none recorded yet")
    troubled_total = sum(c.get(str(o), 0) for c in status.groups_by_outcome.values() for o in _TROUBLED)
    if status.troubled:
        shown = len(status.troubled)
        out.line()
        out.line(
            "out of line" + (f" (first {shown:,} of {troubled_total:,})" if troubled_total > shown else ""), "bold"
        )
        rows = [
            [
                g.vendor,
                g.group_id,
                g.outcome,
                None if g.error_code is None else str(g.error_code),
                g.attempts,
                _when(g.last_success_at),
                g.error_message or "",
            ]
            for g in status.troubled
        ]
        out.table(Table(_TROUBLED_COLUMNS, rows))


def render_migration_status(
    states: Sequence[MigrationState], views: Mapping[str, str | None], vendor: str, out: Output
) -> None:
    """`syncer migrate --status`: each migration, then each vendor's view (the settings' first)."""
    rows: list[list[Cell]] = []
    for state in states:
        if state.applied_at is None:
            what = "pending"
        elif state.changed:
            what = "applied, from another text than this syncer's file"
        else:
            what = "applied"
        rows.append([state.migration.label, what, _when(state.applied_at)])
    out.table(Table((Column("migration"), Column("state", "status"), Column("applied at")), rows))
    out.line()
    for name in sorted(views, key=lambda v: (v != vendor, v)):
        problem = views[name]
        view = "up to date" if problem is None else problem
        out.line(f"{name} desired view: {out.styled(view, view)}")


def print_history(group_id: str, entries: Sequence[JournalEntry], out: Output, *, as_json: bool = False) -> None:
    """A group's journaled changes, newest first: when, which run, the field, before → after."""
    if as_json:
        for e in entries:
            doc = {"at": e.at.isoformat(), "run_id": e.run_id, "field": e.field}
            doc |= {"before": e.before, "after": e.after, "outcome": e.outcome}
            out.stream.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    if not entries:
        out.line(f"{group_id}: no change journaled")
        return
    out.line(f"{group_id}: changes, newest first (UTC)")
    rows: list[list[Cell]] = [
        [_when(e.at), str(e.run_id), e.field, f"{show_value(e.before)} → {show_value(e.after)}", e.outcome]
        for e in entries
    ]
    columns = (Column("AT"), Column("RUN", "number"), Column("FIELD"), Column("BEFORE → AFTER", "message"))
    out.table(Table((*columns, Column("OUTCOME", "status")), rows))
