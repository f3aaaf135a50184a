"""Nexconn group channels behind the shared pipeline: one batch read, one update per channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from syncer import jsoncodec
from syncer.client import CallFailed, VendorClient
from syncer.db.store import DesiredRow, DesiredSource, Row
from syncer.errors import CredentialsError, Malformed, VendorError
from syncer.models import Desired, GroupPlan, GroupResult, Outcome
from syncer.nexconn.api import CHANNEL_BATCH_MAX, CHANNEL_NOT_FOUND, PERMISSIONS
from syncer.nexconn.diff import plan_channel
from syncer.nexconn.models import DesiredChannel, LiveChannel
from syncer.nexconn.validation import validate
from syncer.quoting import clip, quote
from syncer.settings import Settings
from syncer.vendor import LiveAnswer, LiveBatch, ReadError, in_line

log = structlog.get_logger("syncer.nexconn")
_PERMISSION_COLUMNS = {key: column for column, (key, _) in PERMISSIONS.items()}
# What plan_channel reads of a channel's answer (through parse_live): its digest is taken over these.
_LOOKED_AT = ("name", "groupProfile", "permissions", "groupExtProfile")


def decode_desired(row: Row) -> DesiredChannel:
    """One row of sql/vendors/nexconn.sql's reads (ext_profile comes as text: decoded here)."""
    ext = row["ext_profile"]
    try:
        ext = None if ext is None else jsoncodec.loads(ext)
    except ValueError as exc:
        raise Malformed(f"ext_profile: {exc}") from None
    return DesiredChannel(
        channel_id=row["group_id"],
        name=row["name"],
        introduction=row["introduction"],
        announcement=row["announcement"],
        portrait_url=row["portrait_url"],
        join_perm=row["join_perm"],
        remove_perm=row["remove_perm"],
        mem_invite_perm=row["mem_invite_perm"],
        invite_perm=row["invite_perm"],
        profile_perm=row["profile_perm"],
        mem_profile_perm=row["mem_profile_perm"],
        ext_profile=ext,
    )


DESIRED = DesiredSource("nexconn", decode_desired)


def parse_live(profile: Mapping[str, Any]) -> LiveChannel:
    """One entry of profile/list's ``result.profiles``. ``name`` is top-level in answers; the
    docs show ``portrait_url`` where requests say ``portraitUrl``: either is accepted.
    :class:`Malformed` if a field the diff reads is not of its documented type."""
    group = _object(profile, "groupProfile")
    fields = {
        "name": profile.get("name", group.get("name")),
        "introduction": group.get("introduction"),
        "announcement": group.get("announcement"),
        "portrait_url": group.get("portraitUrl", group.get("portrait_url")),
    }
    for column, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise Malformed(f"profile/list answered {column} as {quote(value)}, not text")
    permissions = {}
    for key, value in _object(profile, "permissions").items():
        if key in _PERMISSION_COLUMNS:
            if type(value) is not int:
                raise Malformed(f"profile/list answered permissions.{key} as {quote(value)}, not a whole number")
            permissions[_PERMISSION_COLUMNS[key]] = value
    ext = {}
    for key, value in _object(profile, "groupExtProfile").items():
        if value is not None and not isinstance(value, str):
            raise Malformed(f"profile/list answered groupExtProfile.{clip(key)} as {quote(value)}, not text")
        ext[key] = value or ""
    return LiveChannel(profile["channelId"], fields, permissions, ext)


def _object(profile: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = profile.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"profile/list answered {name} as {quote(value)}, not an object")
    return value


def _channels_answered(decoded: Mapping[str, Any], ids: Sequence[str], digest: str) -> dict[str, object]:
    """Each asked-for channel's entry in a profile/list answer, or why it has none."""
    result = decoded.get("result")
    profiles = result.get("profiles") if isinstance(result, dict) else None
    if not isinstance(profiles, list):
        failure = ReadError(None, f"profile/list answered result {quote(result)}, not an object with a profiles list")
        return dict.fromkeys(ids, failure)
    asked = set(ids)
    found: dict[str, object] = {}
    for profile in profiles:
        channel_id = profile.get("channelId") if isinstance(profile, dict) else None
        if not isinstance(channel_id, str) or channel_id not in asked or channel_id in found:
            continue  # not an entry for a channel this batch asked for (once)
        assert isinstance(profile, dict)
        try:
            found[channel_id] = LiveAnswer.of(profile, tuple(map(profile.get, _LOOKED_AT)), digest)
        except ValueError as exc:  # nested deeper than any value the diff reads
            found[channel_id] = ReadError(None, f"profile/list answered this channel malformed: {exc}")
    for channel_id in ids:
        # The list answers only the channels that exist.
        found.setdefault(channel_id, ReadError(None, "no such channel: profile/list did not return it", True))
    return found


def _channel(desired: Desired) -> DesiredChannel:
    assert isinstance(desired, DesiredChannel), desired
    return desired


class NexconnVendor:
    """Channels are read in batches of 50 (profile/list) and written with one profile/update
    carrying only the fields, permissions and ext keys that differ."""

    name = "nexconn"
    batch_max = CHANNEL_BATCH_MAX
    desired = DESIRED

    def __init__(self, settings: Settings, client: VendorClient) -> None:
        self._settings = settings
        self.client = client

    def lock_scope(self) -> str:
        return f"nexconn.{self._settings.nexconn_app_key}"

    def validate(self, desired: Desired) -> list[str]:
        return validate(_channel(desired))

    async def fetch_live(
        self, group_ids: Sequence[str], page_rows: Sequence[Row], *, same_as: str | None = None
    ) -> LiveBatch:
        assert 0 < len(group_ids) <= CHANNEL_BATCH_MAX
        ids = list(group_ids)
        try:
            answer = await self.client.read("profile_list", {"channelIds": ids}, same_as=same_as)
        except CredentialsError:
            raise
        except VendorError as exc:
            failure = ReadError(exc.code, str(exc), not_found=exc.code == CHANNEL_NOT_FOUND)
            return LiveBatch(None, {i: failure for i in ids})
        if answer.decoded is None:
            return LiveBatch(answer.digest, None)
        return LiveBatch(answer.digest, _channels_answered(answer.decoded, ids, answer.digest))

    def settles_by_digest(self, page_row: Row) -> bool:
        return True  # a channel's whole profile is in the batch read

    def settle_without_calls(self, row: DesiredRow, live: object, *, dry_run: bool) -> GroupResult | None:
        if dry_run or not isinstance(live, LiveAnswer):
            return None
        try:
            if plan_channel(_channel(row.group), parse_live(live.raw)).in_sync:
                return in_line(row, live)
        except Malformed:
            pass  # sync_group words the failure
        return None

    async def sync_group(self, row: DesiredRow, live: object, *, dry_run: bool) -> tuple[GroupResult, GroupPlan | None]:
        channel_id = row.group_id
        if isinstance(live, ReadError):
            outcome = Outcome.NOT_FOUND if live.not_found else Outcome.FAILED
            log.warning("group_read_failed", group_id=channel_id, code=live.code, error=live.message)
            return GroupResult(channel_id, outcome, live.code, f"profile_list: {live.message}"), None
        assert isinstance(live, LiveAnswer)
        try:
            plan = plan_channel(_channel(row.group), parse_live(live.raw))
        except Malformed as exc:
            log.warning("group_read_failed", group_id=channel_id, code=None, error=str(exc))
            return GroupResult(channel_id, Outcome.FAILED, None, str(exc)), None
        if plan.in_sync and not dry_run:
            return in_line(row, live), plan
        if dry_run:
            outcome = Outcome.IN_SYNC if plan.in_sync else Outcome.UPDATED
            return GroupResult(channel_id, outcome), plan
        assert plan.base_payload is not None
        try:
            await self.client.call("profile_update", plan.base_payload)
        except CredentialsError:
            raise
        except VendorError as exc:
            message = f"profile_update: {exc}"
            if isinstance(exc, CallFailed) and exc.outcome_unknown:
                message += " (no answer: the write may or may not have applied; the next run reads the channel again)"
            outcome = Outcome.NOT_FOUND if exc.code == CHANNEL_NOT_FOUND else Outcome.FAILED
            log.warning("group_failed", group_id=channel_id, code=exc.code, error=message)
            return GroupResult(channel_id, outcome, exc.code, message), plan
        log.debug("group_updated", group_id=channel_id, fields=[c.field for c in plan.changes])
        applied = {k: v for k, v in plan.base_payload.items() if k != "channelId"}
        return GroupResult(channel_id, Outcome.UPDATED, applied=applied, changes=list(plan.changes)), plan
