"""What `run` and `plan` print for people (stdout) and scripts (--json)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import IO, Any

from syncer.db.migrator import MigrationState
from syncer.models import JournalEntry, Outcome, Status
from syncer.pipeline import RunReport


def show_value(value: Any, *, full: bool = False, width: int = 60) -> str:
    """A value as a literal; a long one shortened in the middle, with its length."""
    text = "∅" if value is None else repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if full or len(text) <= width:
        return text
    return f"{text[: width // 2]}…{text[-(width // 4) :]} ({len(text):,} characters)"


def _calls_text(calls: dict[str, int]) -> str:
    return ", ".join(f"{c} {n}" for c, n in sorted(calls.items())) or "none"


def _by_cause(counts: Mapping[str, int]) -> str:
    """`` (no_answer 12, http_502 3)``: the most frequent first; nothing when there is none."""
    if not counts:
        return ""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return " (" + ", ".join(f"{cause} {n}" for cause, n in ranked) + ")"


def print_summary(report: RunReport, out: IO[str], *, as_json: bool = False) -> None:
    o = report.outcomes
    if as_json:
        doc = report.summary()
        out.write(json.dumps({"totals": doc}) + "\n")
        return
    title = f"run {report.run_id}" if report.run_id is not None else report.mode
    lines = [
        f"{title}: {report.status} in {report.duration_s:.2f} s",
        f"  groups read    {report.groups_read}",
        f"  in sync        {o[Outcome.IN_SYNC]} ({report.unchanged} as last seen, by digest)",
    ]
    if report.mode == "plan":
        lines.append(f"  would change   {report.would_change}")
    else:
        lines.append(f"  changed        {o[Outcome.UPDATED]}")
    lines += [
        f"  rejected       {o[Outcome.REJECTED]}",
        f"  failed         {o[Outcome.FAILED]}{_by_cause(report.failures_by_cause)}",
        f"  not found      {o[Outcome.NOT_FOUND]}",
        f"  held back      {o[Outcome.HELD_BACK]}",
        f"  with warnings  {report.groups_with_warnings}",
        f"  calls          {_calls_text(report.calls)}",
        f"  busiest second {_calls_text(report.peak_sends_per_second)}",
        f"  throttled      {report.throttled}",
        f"  retries        {report.retries}{_by_cause(report.retries_by_cause)}",
    ]
    out.write("\n".join(lines) + "\n")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [headers, *rows]
    ]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _took(start: datetime, end: datetime | None) -> str:
    return "-" if end is None else f"{(end - start).total_seconds():.1f}s"


def print_status(status: Status, out: IO[str], *, as_json: bool = False) -> None:
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
        out.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    lines = ["last runs (UTC)"]
    if status.runs:
        lines += _table(
            [
                "RUN",
                "VENDOR",
                "MODE",
                "SHARD",
                "STATUS",
                "STARTED",
                "TOOK",
                "READ",
                "IN SYNC",
                "CHANGED",
                "REJECTED",
                "FAILED",
                "NOT FOUND",
                "HELD",
                "CALLS",
                "JOURNALED",
            ],
            [
                [
                    str(r.run_id),
                    r.vendor,
                    r.mode,
                    r.shard,
                    r.status,
                    _when(r.started_at),
                    _took(r.started_at, r.finished_at),
                    str(r.groups_read),
                    str(r.outcomes["in_sync"]),
                    str(r.outcomes["updated"]),
                    str(r.outcomes["rejected"]),
                    str(r.outcomes["failed"]),
                    str(r.outcomes["not_found"]),
                    str(r.outcomes.get("held_back", 0)),
                    str(sum(r.calls.values())),
                    str(r.changes),
                ]
                for r in status.runs
            ],
        )
        lines += [f"  run {r.run_id}: {_clip(r.error, 100)}" for r in status.runs if r.error]
    else:
        lines.append("  no run yet")
    lines.append("")
    for vendor, counts in sorted(status.groups_by_outcome.items()):
        lines.append(f"{vendor} groups: " + ", ".join(f"{k} {counts[k]}" for k in sorted(counts)))
    if not status.groups_by_outcome:
        lines.append("groups: none recorded yet")
    troubled = (Outcome.FAILED, Outcome.REJECTED, Outcome.NOT_FOUND, Outcome.HELD_BACK, Outcome.STALE, Outcome.REVERTED)
    troubled_total = sum(c.get(str(o), 0) for c in status.groups_by_outcome.values() for o in troubled)
    if status.troubled:
        shown = f" (first {len(status.troubled)} of {troubled_total})" if troubled_total > len(status.troubled) else ""
        lines += ["", f"out of line{shown}"]
        lines += _table(
            ["VENDOR", "GROUP", "OUTCOME", "CODE", "RUNS", "LAST IN LINE", "ERROR"],
            [
                [
                    g.vendor,
                    g.group_id,
                    g.outcome,
                    "-" if g.error_code is None else str(g.error_code),
                    str(g.attempts),
                    _when(g.last_success_at),
                    _clip(g.error_message or "", 100),
                ]
                for g in status.troubled
            ],
        )
    out.write("\n".join(lines) + "\n")


def render_migration_status(states: Sequence[MigrationState], views: Mapping[str, str | None], vendor: str) -> str:
    """`syncer migrate --status`: each migration, then each vendor's view (the settings' first)."""
    rows = []
    for state in states:
        if state.applied_at is None:
            what = "pending"
        elif state.changed:
            what = "applied, from another text than this syncer's file"
        else:
            what = "applied"
        rows.append([state.migration.label, what, _when(state.applied_at)])
    lines = _table(["migration", "state", "applied at"], rows)
    lines.append("")
    for name in sorted(views, key=lambda v: (v != vendor, v)):
        problem = views[name]
        lines.append(f"{name} desired view: {'up to date' if problem is None else problem}")
    return "\n".join(lines) + "\n"


def print_history(group_id: str, entries: Sequence[JournalEntry], out: IO[str], *, as_json: bool = False) -> None:
    """A group's journaled changes, newest first: when, which run, the field, before → after."""
    if as_json:
        for e in entries:
            doc = {"at": e.at.isoformat(), "run_id": e.run_id, "field": e.field}
            doc |= {"before": e.before, "after": e.after, "outcome": e.outcome}
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    if not entries:
        out.write(f"{group_id}: no change journaled\n")
        return
    out.write(f"{group_id}: changes, newest first (UTC)\n")
    rows = [
        [_when(e.at), str(e.run_id), e.field, f"{show_value(e.before)} → {show_value(e.after)}", e.outcome]
        for e in entries
    ]
    out.write("\n".join(_table(["AT", "RUN", "FIELD", "BEFORE → AFTER", "OUTCOME"], rows)) + "\n")
