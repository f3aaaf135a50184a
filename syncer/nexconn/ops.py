"""Nexconn's reads and writes for one batch or channel, on top of the shared client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from syncer.client import ReadAnswer
from syncer.errors import CredentialsError, Malformed, VendorError
from syncer.models import GroupPlan
from syncer.nexconn.api import CHANNEL_BATCH_MAX, CHANNEL_NOT_FOUND, PERMISSIONS
from syncer.nexconn.models import LiveChannel
from syncer.ports import ReadHints
from syncer.quoting import clip, quote
from syncer.vendor import LiveAnswer, LiveBatch, ReadError, answered_entries, failure_cause

_PERMISSION_COLUMNS = {key: column for column, (key, _) in PERMISSIONS.items()}
# What plan_channel reads of a channel's answer (through parse_live): its digest is taken over these.
_LOOKED_AT = ("name", "groupProfile", "permissions", "groupExtProfile")


class Caller(Protocol):
    async def call(self, command: str, body: dict[str, Any], *, group_id: str | None = None) -> dict[str, Any]: ...

    async def read(self, command: str, body: dict[str, Any], *, same_as: str | None) -> ReadAnswer: ...


async def fetch_live(
    client: Caller, group_ids: Sequence[str], hints: Sequence[ReadHints], same_as: str | None = None
) -> LiveBatch:
    """Read up to 50 channels in one profile/list call (whole: ``hints`` ask for nothing less);
    an answer whose digest is ``same_as`` is not decoded at all."""
    assert 0 < len(group_ids) <= CHANNEL_BATCH_MAX
    ids = list(group_ids)
    try:
        answer = await client.read("profile_list", {"channelIds": ids}, same_as=same_as)
    except CredentialsError:
        raise
    except VendorError as exc:
        failure = ReadError(exc.code, str(exc), exc.code == CHANNEL_NOT_FOUND, failure_cause(exc))
        return LiveBatch(None, dict.fromkeys(ids, failure))
    if answer.decoded is None:
        return LiveBatch(answer.digest, None)
    return LiveBatch(answer.digest, _channels_answered(answer.decoded, ids, answer.digest))


async def update(client: Caller, plan: GroupPlan) -> None:
    """The one profile/update of a plan. Absolute values only: re-sending it cannot do harm."""
    assert plan.base_payload is not None
    await client.call("profile_update", plan.base_payload)


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
    found: dict[str, LiveAnswer | ReadError] = {}
    for channel_id, profile in answered_entries(profiles, ids, "channelId"):
        try:
            found[channel_id] = LiveAnswer.of(profile, tuple(map(profile.get, _LOOKED_AT)), digest)
        except ValueError as exc:  # nested deeper than any value the diff reads
            found[channel_id] = ReadError(None, f"profile/list answered this channel malformed: {exc}")
    for channel_id in ids:
        # The list answers only the channels that exist.
        found.setdefault(channel_id, ReadError(None, "no such channel: profile/list did not return it", True))
    return found
