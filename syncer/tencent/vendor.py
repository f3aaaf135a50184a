"""Tencent Cloud Chat behind the shared pipeline: groups, their attributes, and how to sync one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import structlog

from syncer import jsoncodec
from syncer.client import CallFailed, VendorClient
from syncer.db.store import DesiredRow, DesiredSource, Row
from syncer.errors import CredentialsError, Malformed, VendorError
from syncer.models import Desired, GroupPlan, GroupResult, Outcome
from syncer.settings import Settings
from syncer.tencent.api import GROUP_BATCH_MAX, GROUP_NOT_FOUND_CODES
from syncer.tencent.diff import attrs_fingerprint, plan_group
from syncer.tencent.models import DesiredGroup, LiveGroup
from syncer.tencent.ops import fetch_live, parse_live, read_attrs, write_attrs, write_base
from syncer.tencent.validation import validate
from syncer.vendor import LiveAnswer, LiveBatch, ReadError, in_line

log = structlog.get_logger("syncer.tencent")


def _failure(group_id: str, exc: VendorError, what: str) -> GroupResult:
    if exc.code in GROUP_NOT_FOUND_CODES:
        return GroupResult(group_id, Outcome.NOT_FOUND, exc.code, f"{what}: {exc}")
    message = f"{what}: {exc}"
    if isinstance(exc, CallFailed) and exc.outcome_unknown:
        message += " (no answer: the write may or may not have applied; the next run reads the group again)"
    return GroupResult(group_id, Outcome.FAILED, exc.code, message)


def _json(row: Row, column: str) -> Any:
    text = row[column]
    if text is None:
        return None
    try:
        return jsoncodec.loads(text)
    except ValueError as exc:
        raise Malformed(f"{column}: {exc}") from None


def decode_desired(row: Row) -> DesiredGroup:
    """One row of sql/vendors/tencent.sql's reads (jsonb columns come as text: decoded here)."""
    return DesiredGroup(
        group_id=row["group_id"],
        name=row["name"],
        introduction=row["introduction"],
        notification=row["notification"],
        face_url=row["face_url"],
        max_member_num=row["max_member_num"],
        apply_join_option=row["apply_join_option"],
        invite_join_option=row["invite_join_option"],
        mute_all_member=row["mute_all_member"],
        app_defined_data=_json(row, "app_defined_data"),
        group_attrs=_json(row, "group_attrs"),
    )


DESIRED = DesiredSource("tencent", decode_desired)


def _group(desired: Desired) -> DesiredGroup:
    assert isinstance(desired, DesiredGroup), desired
    return desired


class TencentVendor:
    """Groups are read in batches of 50 (get_group_info); attributes, when they may have
    changed, one group at a time (get_group_attr); writes are modify_group_base_info and
    set_group_attr (or delete_group_attr to clear)."""

    name = "tencent"
    batch_max = GROUP_BATCH_MAX
    desired = DESIRED

    def __init__(self, settings: Settings, client: VendorClient) -> None:
        self._settings = settings
        self.client = client

    def lock_scope(self) -> str:
        return f"tencent.{self._settings.sdkappid}"

    def validate(self, desired: Desired) -> list[str]:
        return validate(_group(desired))

    async def fetch_live(
        self, group_ids: Sequence[str], page_rows: Sequence[Row], *, same_as: str | None = None
    ) -> LiveBatch:
        return await fetch_live(self.client, group_ids, page_rows, same_as)

    def _fingerprint(self, row: DesiredRow) -> str | None:
        attrs = _group(row.group).group_attrs
        return attrs_fingerprint(attrs) if isinstance(attrs, dict) else None

    def _must_read_attrs(self, row: DesiredRow, fingerprint: str) -> bool:
        state = row.state
        return (
            self._settings.check_attrs
            or state.attrs_fingerprint != fingerprint
            or state.attrs_checked_age_s is None
            or state.attrs_checked_age_s > self._settings.attr_recheck_s
        )

    def settles_by_digest(self, page_row: Row) -> bool:
        # The attribute set is not in the batch read: it was in line when the group was last
        # seen so (the desired set is the same since), but is re-read once it is due. (A
        # SeenBatch's row: whether any group manages attributes, and the oldest check.)
        if not page_row["manages_attrs"]:
            return True
        age = page_row["attrs_checked_age_s"]
        return not self._settings.check_attrs and age is not None and age <= self._settings.attr_recheck_s

    def settle_without_calls(self, row: DesiredRow, live: object, *, dry_run: bool) -> GroupResult | None:
        if not isinstance(live, LiveAnswer):
            return None  # cheap either way: let sync_group word the failure
        fingerprint = self._fingerprint(row)
        if fingerprint is not None and self._must_read_attrs(row, fingerprint):
            return None
        try:
            plan = plan_group(_group(row.group), parse_live(live.raw))
        except Malformed:
            return None  # sync_group words the failure
        if not plan.in_sync or dry_run:
            return None
        for warning in plan.warnings:
            log.warning("field_skipped", group_id=plan.group_id, warning=warning)
        return in_line(row, live, plan.warnings)

    async def sync_group(self, row: DesiredRow, live: object, *, dry_run: bool) -> tuple[GroupResult, GroupPlan | None]:
        group_id = row.group.group_id
        if isinstance(live, ReadError):
            outcome = Outcome.NOT_FOUND if live.code in GROUP_NOT_FOUND_CODES else Outcome.FAILED
            log.warning("group_read_failed", group_id=group_id, code=live.code, error=live.message)
            return GroupResult(group_id, outcome, live.code, f"get_group_info: {live.message}"), None
        assert isinstance(live, LiveAnswer)
        try:
            group = parse_live(live.raw)
        except Malformed as exc:
            return self._malformed(group_id, exc), None

        fingerprint = self._fingerprint(row)
        attrs_read = False
        if fingerprint is not None and self._must_read_attrs(row, fingerprint):
            try:
                group = replace(group, attrs=await read_attrs(self.client, group_id))
                attrs_read = True
            except CredentialsError:
                raise
            except VendorError as exc:
                return _failure(group_id, exc, "get_group_attr"), None
            except Malformed as exc:
                return self._malformed(group_id, exc), None

        plan = plan_group(_group(row.group), group)
        for warning in plan.warnings:
            log.warning("field_skipped", group_id=group_id, warning=warning)
        if dry_run:
            outcome = Outcome.IN_SYNC if plan.in_sync else Outcome.UPDATED
            return GroupResult(group_id, outcome, warnings=list(plan.warnings)), plan
        if plan.in_sync:
            return in_line(row, live, plan.warnings, attrs_fingerprint=fingerprint if attrs_read else None), plan
        return await self._write(plan, group, fingerprint, attrs_read), plan

    @staticmethod
    def _malformed(group_id: str, exc: Malformed) -> GroupResult:
        log.warning("group_read_failed", group_id=group_id, code=None, error=str(exc))
        return GroupResult(group_id, Outcome.FAILED, None, str(exc))

    async def _write(self, plan: GroupPlan, live: LiveGroup, fingerprint: str | None, attrs_read: bool) -> GroupResult:
        group_id = plan.group_id
        applied: dict[str, Any] = {}
        failures: list[GroupResult] = []
        attrs_outcome: str | None = fingerprint if attrs_read else None

        async def base() -> None:
            assert plan.base_payload is not None
            try:
                await write_base(self.client, plan.base_payload)
                applied["base"] = {k: v for k, v in plan.base_payload.items() if k != "GroupId"}
            except CredentialsError:
                raise
            except VendorError as exc:
                failures.append(_failure(group_id, exc, "modify_group_base_info"))

        async def attrs() -> None:
            nonlocal attrs_outcome
            assert plan.attrs is not None
            try:
                await write_attrs(self.client, group_id, plan.attrs, live.attrs or {})
                applied["attrs"] = plan.attrs
                attrs_outcome = fingerprint
            except CredentialsError:
                raise
            except VendorError as exc:
                attrs_outcome = ""  # unknown now: read them again next run
                failures.append(_failure(group_id, exc, "set_group_attr"))

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
            log.warning("group_failed", group_id=group_id, code=first.error_code, error=first.error_message)
            return first
        log.debug("group_updated", group_id=group_id, fields=[c.field for c in plan.changes])
        return GroupResult(
            group_id,
            Outcome.UPDATED,
            warnings=list(plan.warnings),
            applied=applied,
            attrs_fingerprint=attrs_outcome,
            changes=list(plan.changes),
        )
