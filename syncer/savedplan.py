"""A saved plan: what `syncer plan --out PLAN` planned, for `syncer apply PLAN` to send exactly.

The file is JSON lines: a head (the format, the vendor and app it was planned for, when), one
line per group that needs writes (its desired row's digest, the writes, and each change with the
live value it overwrites), and a tail with the number of groups and a SHA-256 of every line
before it. A file cut short has no tail; one edited by hand fails its checksum; either is refused
before any call, as is one too old or planned for another app.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from syncer.errors import ConfigError
from syncer.models import FieldChange, GroupPlan
from syncer.quoting import clip

FORMAT = "syncer-plan/1"


@dataclass(frozen=True, slots=True)
class PlannedGroup:
    """One group of a saved plan: the writes, and what they were planned against."""

    desired_digest: str | None  # None: any desired row (a revert's)
    plan: GroupPlan  # its changes' old values are the live values the writes overwrite

    @property
    def expected_live(self) -> dict[str, Any]:
        return {c.field: c.old for c in self.plan.changes}


@dataclass(frozen=True, slots=True)
class SavedPlan:
    vendor: str
    app: str
    created_at: float  # Unix time
    groups: Mapping[str, PlannedGroup]
    reverts: int | None = None  # a revert's plan: the run whose changes it writes back

    @property
    def source(self) -> str:
        return "the plan" if self.reverts is None else f"run {self.reverts}"


class PlanWriter:
    """Writes a plan as it streams: one line per group, the checksum kept as it goes."""

    def __init__(self, out: IO[bytes], *, vendor: str, app: str, now: float) -> None:
        self._out = out
        self._digest = hashlib.sha256()
        self.groups = 0
        self.discard = False  # set when the plan did not go to its end: no file is left
        self._line({"format": FORMAT, "vendor": vendor, "app": app, "created_at": now})

    def group(self, plan: GroupPlan, desired_digest: str) -> None:
        changes = [[c.field, c.old, c.new] for c in plan.changes]
        body = {"base": plan.base_payload, "attrs": plan.attrs, "calls": list(plan.calls)}
        self._line({"group_id": plan.group_id, "desired_digest": desired_digest, "changes": changes, **body})
        self.groups += 1

    def finish(self) -> None:
        tail = {"groups": self.groups, "sha256": self._digest.hexdigest()}
        self._out.write(json.dumps(tail).encode() + b"\n")

    def _line(self, doc: dict[str, Any]) -> None:
        line = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode() + b"\n"
        self._digest.update(line)
        self._out.write(line)


@contextmanager
def plan_writer(path: str, *, vendor: str, app: str) -> Iterator[PlanWriter]:
    """A plan file at ``path``, written whole or not at all (a stop leaves no half plan)."""
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as out:
            writer = PlanWriter(out, vendor=vendor, app=app, now=time.time())
            yield writer
            writer.finish()
        if not writer.discard:
            partial.replace(target)
    except OSError as exc:
        raise ConfigError(f"--out {path}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)


class PlannedGroups(Mapping[str, PlannedGroup]):
    """A plan's groups, each kept as its line and decoded when the run comes to it: a plan of
    200,000 groups holds its file's size in memory, not several times that (bench/RESULTS.md).
    Every line was decoded and checked once as the plan was loaded, so none fails here."""

    def __init__(self, lines: dict[str, bytes], where: str) -> None:
        self._lines = lines
        self._where = where

    def __getitem__(self, group_id: str) -> PlannedGroup:
        return _planned(_json(self._lines[group_id], self._where), self._where)

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def __contains__(self, group_id: object) -> bool:
        return group_id in self._lines


def load_plan(path: str, *, vendor: str, app: str, max_age_s: float, now: float | None = None) -> SavedPlan:
    """The plan at ``path``; :class:`ConfigError` (exit 78) for any reason not to apply it."""
    try:
        with Path(path).open("rb") as lines:
            return read_plan(lines, f"plan {path}", vendor=vendor, app=app, max_age_s=max_age_s, now=now)
    except OSError as exc:
        raise ConfigError(f"plan {path}: {exc}") from None


def parse_plan(
    data: bytes, where: str, *, vendor: str, app: str, max_age_s: float, now: float | None = None
) -> SavedPlan:
    """A plan's bytes (one saved in Postgres), checked as :func:`load_plan` says."""
    return read_plan(io.BytesIO(data), where, vendor=vendor, app=app, max_age_s=max_age_s, now=now)


def read_plan(
    lines: IO[bytes], where: str, *, vendor: str, app: str, max_age_s: float, now: float | None = None
) -> SavedPlan:
    """A plan read from ``lines`` (a seekable file: read twice, never whole): its checksum, then
    its head, then each group's line, decoded and checked, kept as it is."""
    digest, count, tail_line = hashlib.sha256(), 0, b""
    for line in lines:
        if tail_line:
            digest.update(tail_line)
            count += 1
        tail_line = line
    if count < 1:
        raise ConfigError(f"{where}: not a syncer plan, or cut short")
    tail = _json(tail_line, where)
    if not isinstance(tail, dict) or "sha256" not in tail:
        raise ConfigError(f"{where}: cut short (no checksum at its end)")
    if tail.get("sha256") != digest.hexdigest() or tail.get("groups") != count - 1:
        raise ConfigError(f"{where}: its checksum does not match: edited or damaged since it was planned")
    lines.seek(0)
    head = _json(lines.readline(), where)
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise ConfigError(f"{where}: not a {FORMAT} plan")
    if head.get("vendor") != vendor or head.get("app") != app:
        raise ConfigError(f"{where}: planned for {clip(str(head.get('app')))}, not {app}")
    created = head.get("created_at")
    age = (time.time() if now is None else now) - (created if isinstance(created, int | float) else 0)
    if not 0 <= age <= max_age_s:
        raise ConfigError(
            f"{where}: planned {age / 3600:.1f} h ago, older than --max-plan-age ({max_age_s / 3600:g} h)"
        )
    groups: dict[str, bytes] = {}
    for _ in range(count - 1):
        line = lines.readline()
        groups[_planned(_json(line, where), where).plan.group_id] = line
    return SavedPlan(vendor, app, float(created), PlannedGroups(groups, where))  # type: ignore[arg-type]


def _json(line: bytes, where: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        raise ConfigError(f"{where}: a line is not JSON") from None


def _planned(doc: Any, where: str) -> PlannedGroup:
    try:
        changes = tuple(FieldChange(str(f), old, new) for f, old, new in doc["changes"])
        plan = GroupPlan(str(doc["group_id"]), doc["base"], doc["attrs"], changes, (), tuple(doc["calls"]))
        return PlannedGroup(str(doc["desired_digest"]), plan)
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{where}: a group's line is not of a plan's shape") from None


def revert_plan(
    written: Mapping[str, Sequence[FieldChange]],
    plan_of_changes: Callable[[str, Sequence[FieldChange]], GroupPlan],
    *,
    vendor: str,
    app: str,
    run_id: int,
) -> SavedPlan:
    """The plan that writes back what run ``run_id`` wrote (``written``: the change journal's,
    by group): each field from what the run wrote, the value expected live, to what it replaced.
    A group changed since is stale when applied: a conflict, left alone."""
    groups = {}
    for group_id, changes in written.items():
        plan = plan_of_changes(group_id, [FieldChange(c.field, c.new, c.old) for c in changes])
        if plan.changes:
            groups[group_id] = PlannedGroup(None, plan)
    return SavedPlan(vendor, app, time.time(), groups, reverts=run_id)
