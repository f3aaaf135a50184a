"""Nexconn group channels behind the shared pipeline: one batch read, one update per channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from syncer.client import CallFailed, VendorClient
from syncer.errors import CredentialsError, Malformed, VendorError
from syncer.models import GroupPlan, GroupResult, Outcome
from syncer.nexconn.api import CHANNEL_BATCH_MAX, CHANNEL_NOT_FOUND, PERMISSIONS
from syncer.nexconn.diff import plan_channel
from syncer.nexconn.models import DesiredChannel, LiveChannel
from syncer.nexconn.validation import validate
from syncer.ports import ReadHints
from syncer.quoting import clip, quote
from syncer.settings import Settings
from syncer.vendor import (
    JSON,
    TEXT,
    WHOLE_NUMBER,
    Decision,
    LiveAnswer,
    LiveBatch,
    ReadError,
    Settled,
    Target,
    decode_profile,
    in_line,
)

log = structlog.get_logger("syncer.nexconn")
_PERMISSION_COLUMNS = {key: column for column, (key, _) in PERMISSIONS.items()}
# What plan_channel reads of a channel's answer (through parse_live): its digest is taken over these.
_LOOKED_AT = ("name", "groupProfile", "permissions", "groupExtProfile")


# Each managed column of the desired relation, as its view's profile names it, and its kind.
_COLUMNS = {
    "name": TEXT,
    "introduction": TEXT,
    "announcement": TEXT,
    "portrait_url": TEXT,
    **dict.fromkeys(PERMISSIONS, WHOLE_NUMBER),
    "ext_profile": JSON,
}


def decode_desired(channel_id: str, profile: str) -> DesiredChannel:
    """A row of the view syncer_nexconn_desired, read in full (sql/desired/nexconn.sql)."""
    return DesiredChannel(channel_id, **decode_profile(profile, _COLUMNS))


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


def _channels_answered(
    decoded: Mapping[str, Any], ids: Sequence[str], digest: str
) -> dict[str, LiveAnswer | ReadError]:
    """Each asked-for channel's entry in a profile/list answer, or why it has none."""
    result = decoded.get("result")
    profiles = result.get("profiles") if isinstance(result, dict) else None
    if not isinstance(profiles, list):
        failure = ReadError(None, f"profile/list answered result {quote(result)}, not an object with a profiles list")
        return dict.fromkeys(ids, failure)
    asked = set(ids)
    found: dict[str, LiveAnswer | ReadError] = {}
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


class NexconnVendor:
    """Channels are read in batches of 50 (profile/list) and written with one profile/update
    carrying only the fields, permissions and ext keys that differ."""

    name = "nexconn"
    batch_max = CHANNEL_BATCH_MAX
    read_command = "profile_list"

    def __init__(self, settings: Settings, client: VendorClient) -> None:
        self._settings = settings
        self.client = client

    def lock_scope(self) -> str:
        return f"nexconn.{self._settings.nexconn_app_key}"

    def decode(self, group_id: str, profile: str) -> DesiredChannel:
        return decode_desired(group_id, profile)

    def validate(self, desired: DesiredChannel) -> list[str]:
        return validate(desired)

    async def fetch_live(
        self, group_ids: Sequence[str], hints: Sequence[ReadHints], *, same_as: str | None = None
    ) -> LiveBatch:
        assert 0 < len(group_ids) <= CHANNEL_BATCH_MAX
        ids = list(group_ids)
        try:
            answer = await self.client.read("profile_list", {"channelIds": ids}, same_as=same_as)
        except CredentialsError:
            raise
        except VendorError as exc:
            failure = ReadError(exc.code, str(exc), not_found=exc.code == CHANNEL_NOT_FOUND)
            return LiveBatch(None, dict.fromkeys(ids, failure))
        if answer.decoded is None:
            return LiveBatch(answer.digest, None)
        return LiveBatch(answer.digest, _channels_answered(answer.decoded, ids, answer.digest))

    def settles_by_digest(self, hints: ReadHints) -> bool:
        return True  # a channel's whole profile is in the batch read

    def parse_live(self, raw: Mapping[str, Any]) -> LiveChannel:
        return parse_live(raw)

    def settle(
        self, target: Target[DesiredChannel], live: LiveChannel, answer: LiveAnswer, *, dry_run: bool
    ) -> Decision:
        plan = plan_channel(target.desired, live)
        if dry_run:
            return Settled(GroupResult(plan.group_id, Outcome.IN_SYNC if plan.in_sync else Outcome.UPDATED), plan)
        if plan.in_sync:
            return Settled(in_line(target, answer), plan)
        return self._update(plan)

    async def _update(self, plan: GroupPlan) -> Settled:
        channel_id = plan.group_id
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
            return Settled(GroupResult(channel_id, outcome, exc.code, message), plan)
        log.debug("group_updated", group_id=channel_id, fields=[c.field for c in plan.changes])
        applied = {k: v for k, v in plan.base_payload.items() if k != "channelId"}
        return Settled(GroupResult(channel_id, Outcome.UPDATED, applied=applied, changes=list(plan.changes)), plan)
