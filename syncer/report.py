"""What `run` and `plan` print for people (stdout) and scripts (--json)."""

from __future__ import annotations

import json
from typing import Any, TextIO

from syncer.models import GroupPlan, Outcome
from syncer.pipeline import RunReport


def shorten(value: Any, width: int = 60) -> str:
    text = (
        "∅" if value is None else json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    )
    return text if len(text) <= width else text[: width - 1] + "…"


def print_plan_group(plan: GroupPlan, out: TextIO, *, as_json: bool) -> None:
    if plan.in_sync and not plan.warnings:
        return
    if as_json:
        doc = {
            "group_id": plan.group_id,
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in plan.changes],
            "warnings": list(plan.warnings),
            "calls": _planned_calls(plan),
        }
        out.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    out.write(f"{plan.group_id}\n")
    for change in plan.changes:
        out.write(f"  {change.field}: {shorten(change.old)} → {shorten(change.new)}\n")
    for warning in plan.warnings:
        out.write(f"  warning: {warning}\n")


def _planned_calls(plan: GroupPlan) -> list[str]:
    calls = []
    if plan.base_payload is not None:
        calls.append("modify_group_base_info")
    if plan.attrs is not None:
        calls.append("set_group_attr" if plan.attrs else "delete_group_attr")
    return calls


def _calls_text(calls: dict[str, int]) -> str:
    return ", ".join(f"{c} {n}" for c, n in sorted(calls.items())) or "none"


def print_summary(report: RunReport, out: TextIO, *, as_json: bool = False) -> None:
    o = report.outcomes
    if as_json:
        doc = {
            "mode": report.mode,
            "run_id": report.run_id,
            "status": report.status,
            "groups_read": report.groups_read,
            **{str(k): o[k] for k in Outcome},
            "would_change": report.would_change if report.mode == "plan" else None,
            "groups_with_warnings": report.groups_with_warnings,
            "calls": report.calls,
            "peak_sends_per_second": report.peak_sends_per_second,
            "throttled": report.throttled,
            "retries": report.retries,
            "duration_s": round(report.duration_s, 3),
        }
        out.write(json.dumps({"totals": doc}) + "\n")
        return
    title = f"run {report.run_id}" if report.run_id is not None else report.mode
    lines = [
        f"{title}: {report.status} in {report.duration_s:.2f} s",
        f"  groups read    {report.groups_read}",
        f"  in sync        {o[Outcome.IN_SYNC]}",
    ]
    if report.mode == "plan":
        lines.append(f"  would change   {report.would_change}")
    else:
        lines.append(f"  changed        {o[Outcome.UPDATED]}")
    lines += [
        f"  rejected       {o[Outcome.REJECTED]}",
        f"  failed         {o[Outcome.FAILED]}",
        f"  not found      {o[Outcome.NOT_FOUND]}",
        f"  with warnings  {report.groups_with_warnings}",
        f"  calls          {_calls_text(report.calls)}",
        f"  busiest second {_calls_text(report.peak_sends_per_second)}",
        f"  throttled      {report.throttled} (retries {report.retries})",
    ]
    out.write("\n".join(lines) + "\n")
