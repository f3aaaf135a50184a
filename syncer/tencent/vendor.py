"""Tencent Cloud Chat behind the shared pipeline: groups, their attributes, and how to sync one."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog

from syncer.budget import WriteGate
from syncer.errors import CredentialsError, Malformed, VendorError
from syncer.models import FieldChange, GroupPlan, GroupResult, Outcome
from syncer.ports import PageRow, ReadHints
from syncer.tencent.api import GROUP_BATCH_MAX, GROUP_NOT_FOUND_CODES
from syncer.tencent.diff import attrs_fingerprint, attrs_with_changes, live_values, plan_group, plan_of_changes
from syncer.tencent.models import DesiredGroup, LiveGroup, decode_desired
from syncer.tencent.ops import fetch_live, parse_live, read_attrs, write_attrs, write_base
from syncer.tencent.validation import validate
from syncer.vendor import BatchRead, Settled, VendorBase, call_failed, outcome_unknown, planned_writes, without_writes

if TYPE_CHECKING:
    from syncer.vendor import Decision, LiveAnswer, Target

log = structlog.get_logger("syncer.tencent")


def _failure(group_id: str, exc: VendorError, command: str) -> GroupResult:
    return call_failed(group_id, exc, command, not_found=exc.code in GROUP_NOT_FOUND_CODES)


class TencentVendor(VendorBase):
    """Groups are read in batches of 50 (get_group_info); attributes, when they may have
    changed, one group at a time (get_group_attr); writes are modify_group_base_info and
    set_group_attr (or delete_group_attr to clear)."""

    name = "tencent"
    read = BatchRead("get_group_info", GROUP_BATCH_MAX, fetch_live)
    decode = staticmethod(decode_desired)
    validate = staticmethod(validate)
    parse_live = staticmethod(parse_live)

    def settles_by_digest(self, hints: ReadHints) -> bool:
        # The attribute set is not in the batch read: it was in line when the group was last
        # seen so (the desired set is the same since), but is re-read once it is due.
        if not hints.manages_attrs:
            return True
        age = hints.attrs_checked_age_s
        return not self._settings.check_attrs and age is not None and age <= self._settings.attr_recheck_s

    def settle(self, target: Target[DesiredGroup], live: LiveGroup, answer: LiveAnswer, gate: WriteGate) -> Decision:
        attrs = target.desired.group_attrs
        fingerprint = attrs_fingerprint(attrs) if isinstance(attrs, dict) else None
        if fingerprint is not None and self._must_read_attrs(target.page, fingerprint):
            return self._with_attrs(target, live, answer, fingerprint, gate)
        return self._decide(target, live, answer, None, gate)

    plan_of_changes = staticmethod(plan_of_changes)

    def apply_planned(
        self, target: Target[DesiredGroup], live: LiveGroup, plan: GroupPlan, gate: WriteGate
    ) -> Decision:
        if any(c.field.startswith("GroupAttr.") for c in plan.changes):
            return self._planned_with_attrs(live, plan, gate)
        return planned_writes(plan, live_values(live), gate) or self._write(plan, live, None)

    async def _planned_with_attrs(self, live: LiveGroup, plan: GroupPlan, gate: WriteGate) -> Settled:
        try:
            live = replace(live, attrs=await read_attrs(self.client, plan.group_id))
        except CredentialsError:
            raise
        except VendorError as exc:
            return Settled(_failure(plan.group_id, exc, "get_group_attr"))
        except Malformed as exc:
            return Settled(GroupResult(plan.group_id, Outcome.FAILED, None, str(exc)))
        if settled := planned_writes(plan, live_values(live), gate):
            return settled
        if plan.attrs is None:  # a revert's: the set live now, each changed key set back
            plan = replace(plan, attrs=attrs_with_changes(live.attrs or {}, plan.changes))
        assert plan.attrs is not None
        return await self._write(plan, live, attrs_fingerprint(plan.attrs))

    def _must_read_attrs(self, page: PageRow, fingerprint: str) -> bool:
        age = page.attrs_checked_age_s
        return (
            self._settings.check_attrs
            or page.attrs_fingerprint != fingerprint
            or age is None
            or age > self._settings.attr_recheck_s
        )

    async def _with_attrs(
        self, target: Target[DesiredGroup], live: LiveGroup, answer: LiveAnswer, fingerprint: str, gate: WriteGate
    ) -> Settled:
        group_id = target.group_id
        try:
            live = replace(live, attrs=await read_attrs(self.client, group_id))
        except CredentialsError:
            raise
        except VendorError as exc:
            return Settled(_failure(group_id, exc, "get_group_attr"))
        except Malformed as exc:
            log.warning("group_read_failed", group_id=group_id, code=None, error=str(exc))
            return Settled(GroupResult(group_id, Outcome.FAILED, None, str(exc)))
        decision = self._decide(target, live, answer, fingerprint, gate)
        return decision if isinstance(decision, Settled) else await decision

    def _decide(
        self,
        target: Target[DesiredGroup],
        live: LiveGroup,
        answer: LiveAnswer,
        attrs_read: str | None,
        gate: WriteGate,
    ) -> Decision:
        """The one diff of the group, and what follows from it. ``attrs_read``: the fingerprint
        of the attribute set read live this run, if it was."""
        plan = plan_group(target.desired, live)
        for warning in plan.warnings:
            log.warning("field_skipped", group_id=plan.group_id, warning=warning)
        settled = without_writes(target, answer, plan, gate, attrs_fingerprint=attrs_read)
        return settled or self._write(plan, live, attrs_read)

    async def _write(self, plan: GroupPlan, live: LiveGroup, attrs_read: str | None) -> Settled:
        group_id = plan.group_id
        applied: dict[str, Any] = {}
        failures: list[GroupResult] = []
        attrs_outcome: str | None = attrs_read
        # What each write changes, for the journal: confirmed, or sent with no answer.
        attr_changes = [c for c in plan.changes if c.field.startswith("GroupAttr.")]
        base_changes = [c for c in plan.changes if not c.field.startswith("GroupAttr.")]
        confirmed: list[FieldChange] = []
        unknown: list[FieldChange] = []

        async def base() -> None:
            assert plan.base_payload is not None
            try:
                await write_base(self.client, plan.base_payload)
                applied["base"] = {k: v for k, v in plan.base_payload.items() if k != "GroupId"}
                confirmed.extend(base_changes)
            except CredentialsError:
                raise
            except VendorError as exc:
                failures.append(_failure(group_id, exc, "modify_group_base_info"))
                unknown.extend(base_changes if outcome_unknown(exc) else ())

        async def attrs() -> None:
            nonlocal attrs_outcome
            assert plan.attrs is not None
            try:
                await write_attrs(self.client, group_id, plan.attrs, live.attrs or {})
                applied["attrs"] = plan.attrs  # the desired set, whose fingerprint attrs_read is
                confirmed.extend(attr_changes)
            except CredentialsError:
                raise
            except VendorError as exc:
                attrs_outcome = ""  # unknown now: read them again next run
                failures.append(_failure(group_id, exc, "set_group_attr"))
                unknown.extend(attr_changes if outcome_unknown(exc) else ())

        writes = []
        if plan.base_payload is not None:
            writes.append(base())
        if plan.attrs is not None:
            writes.append(attrs())
        await asyncio.gather(*writes)

        if failures:
            first = failures[0]
            first.warnings = list(plan.warnings)
            first.applied = applied or None
            first.attrs_fingerprint = attrs_outcome
            first.error_message = "; ".join(f.error_message or "" for f in failures)
            first.changes, first.unknown = confirmed, unknown
            log.warning("group_failed", group_id=group_id, code=first.error_code, error=first.error_message)
            return Settled(first, plan)
        log.debug("group_updated", group_id=group_id, fields=[c.field for c in plan.changes])
        result = GroupResult(
            group_id,
            Outcome.UPDATED,
            warnings=list(plan.warnings),
            applied=applied,
            attrs_fingerprint=attrs_outcome,
            changes=confirmed,
        )
        return Settled(result, plan)
