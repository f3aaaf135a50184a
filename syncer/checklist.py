"""`syncer check`'s answer: a checklist of items, each passed, failed or not verified, with the
fix for each failure; as text for a person and as JSON for a script."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class Mark(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_VERIFIED = "not verified"


_SYMBOL = {Mark.PASSED: "[ok]  ", Mark.FAILED: "[FAIL]", Mark.NOT_VERIFIED: "[ ?? ]"}


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    mark: Mark
    detail: str
    # For a failure, what to change; for an item not verified, the command that verifies it.
    fix: str = ""


def exit_code(items: Sequence[Item]) -> int:
    """0 only when no item failed (an item not verified is no failure: it says how to verify it)."""
    return 1 if any(item.mark is Mark.FAILED for item in items) else 0


def as_json(items: Sequence[Item]) -> dict[str, Any]:
    return {
        "ok": exit_code(items) == 0,
        "items": [{"name": i.name, "status": str(i.mark), "detail": i.detail, "fix": i.fix or None} for i in items],
    }


_STYLE = {Mark.PASSED: "green", Mark.FAILED: "bold red", Mark.NOT_VERIFIED: "yellow"}


def render(title: str, items: Sequence[Item]) -> list[tuple[str, str | None]]:
    """The checklist's lines, each with its colour on a terminal (a rich style, or None)."""
    width = max((len(item.name) for item in items), default=0)
    lines: list[tuple[str, str | None]] = [(title, "bold")]
    for item in items:
        lines.append((f"  {_SYMBOL[item.mark]} {item.name.ljust(width)}  {item.detail}", _STYLE[item.mark]))
        if item.fix:
            label = "verify" if item.mark is Mark.NOT_VERIFIED else "fix"
            lines.append((f"  {'':6} {'':{width}}  {label}: {item.fix}", None))
    failed = sum(item.mark is Mark.FAILED for item in items)
    unverified = sum(item.mark is Mark.NOT_VERIFIED for item in items)
    verdict = "every item passed" if not failed and not unverified else f"{failed} failed, {unverified} not verified"
    ready = "ready to run" if not failed else "fix what failed, then check again"
    lines.append((f"{verdict}: {ready}", "green" if not failed else "bold red"))
    return lines
