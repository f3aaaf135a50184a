"""Tencent's reads and writes for one batch or group, on top of :class:`TencentClient`."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from syncer import jsoncodec
from syncer.client import ReadAnswer, is_code
from syncer.errors import CredentialsError, Malformed, VendorError
from syncer.ports import ReadHints
from syncer.quoting import clip, quote
from syncer.tencent.api import ANSWER_TOO_LARGE, GROUP_BATCH_MAX, GROUP_NOT_FOUND_CODES
from syncer.tencent.models import BASE_FIELDS, LiveGroup
from syncer.vendor import LiveAnswer, LiveBatch, ReadError, answered_entries, failure_cause

# What plan_group reads of a group's answer (through parse_live): its digest is taken over these.
_LOOKED_AT = ("Type", *BASE_FIELDS.values(), "ShutUpAllMember", "AppDefinedData")


class Caller(Protocol):
    async def call(self, command: str, body: dict[str, Any], *, group_id: str | None = None) -> dict[str, Any]: ...

    async def read(self, command: str, body: dict[str, Any], *, same_as: str | None) -> ReadAnswer: ...


def response_filter(hints: Sequence[ReadHints]) -> dict[str, Any]:
    """Only the base fields this batch manages, plus Type; only managed custom keys; no members.

    ``hints``: the batch's rows as the page query answered them, undecoded: their ``shape``
    (the view syncer_tencent_desired's) names the base columns set and the custom fields (a seen
    batch's: each of its distinct shapes, one per line), so that a batch of rows found unchanged
    is read without decoding any of them.
    """
    columns: set[str] = set()
    keys: dict[str, None] = {}  # in first-seen order
    for shape in dict.fromkeys(hint.shape or "[[], []]" for hint in hints):  # rows mostly share one or two
        row_columns, row_keys = _shape(shape)
        columns |= row_columns
        keys.update(row_keys)
    base = ["Type", *(name for column, name in BASE_FIELDS.items() if column in columns)]
    if "mute_all_member" in columns:
        base.append("ShutUpAllMember")  # older deployments know the mute field by this name
    flt: dict[str, Any] = {"GroupBaseInfoFilter": base}
    if keys:
        flt["AppDefinedDataFilter_Group"] = list(keys)
    return flt


@functools.lru_cache(maxsize=256)
def _shape(shapes: str) -> tuple[frozenset[str], dict[str, None]]:
    # Rows of one table mostly share a handful of shapes: each is parsed once.
    columns: set[str] = set()
    keys: dict[str, None] = {}
    for shape in shapes.split("\n"):
        shape_columns, shape_keys = jsoncodec.loads(shape)
        columns.update(shape_columns)
        keys.update(dict.fromkeys(str(k) for k in shape_keys))
    return frozenset(columns), keys


# The type each looked-at base field must have in an answer (tencent-facts.md); any other is
# malformed, never guessed at.
_TEXT_FIELDS = frozenset(name for column, name in BASE_FIELDS.items() if column not in ("max_member_num",))
_KIND_OF_FIELD: dict[str, type] = dict.fromkeys((*_TEXT_FIELDS, "MuteAllMember", "ShutUpAllMember", "Type"), str) | {
    "MaxMemberNum": int
}
_NOT_BASE = frozenset({"ErrorCode", "ErrorInfo", "AppDefinedData", "MemberList"})


def parse_live(info: Mapping[str, Any]) -> LiveGroup:
    """One entry of get_group_info's ``GroupInfo``, already known to be an object naming its
    group. :class:`Malformed` if a field the diff reads is not of its documented type."""
    base = {}
    for name, value in info.items():
        kind = _KIND_OF_FIELD.get(name)
        if kind is None:
            if name not in _NOT_BASE:
                base[name] = value
            continue
        if type(value) is not kind:
            what = "text" if kind is str else "a whole number"
            raise Malformed(f"get_group_info answered {name} as {quote(value)}, not {what}")
        base[name] = value
    mute = info.get("MuteAllMember", info.get("ShutUpAllMember"))
    base.pop("ShutUpAllMember", None)
    if mute is not None:
        base["MuteAllMember"] = mute
    return LiveGroup(info["GroupId"], info.get("Type", ""), base, _custom_fields(info.get("AppDefinedData")))


def _custom_fields(items: object) -> dict[str, str]:
    return _pairs(items, "get_group_info", "AppDefinedData", "an AppDefinedData item", ("Key", "Value"))


def _pairs(items: object, command: str, name: str, item: str, names: tuple[str, str]) -> dict[str, str]:
    """A list of ``{key, value}`` objects of text (named ``names``) as a mapping; absent: empty.
    :class:`Malformed` for anything else, naming ``command``'s field ``name``."""
    if items is None:
        return {}
    if not isinstance(items, list):
        raise Malformed(f"{command} answered {name} as {quote(items)}, not a list")
    key_name, value_name = names
    found = {}
    for entry in items:
        key = entry.get(key_name) if isinstance(entry, dict) else None
        value = entry.get(value_name, "") if isinstance(entry, dict) else None
        if not isinstance(key, str) or not isinstance(value, str):
            raise Malformed(f"{command} answered {item} {quote(entry)}, not {{{key_name}, {value_name}}} text")
        found[key] = value
    return found


async def fetch_live(
    client: Caller, group_ids: Sequence[str], hints: Sequence[ReadHints], same_as: str | None = None
) -> LiveBatch:
    """Read up to 50 groups in one call; ``hints``: their shapes, for the filter. An answer
    over 1 MB (10018) splits the batch in halves.
    Each group's answer comes undecoded (see :func:`parse_live`), with its digest; an answer
    whose digest is ``same_as`` is not decoded at all."""
    assert 0 < len(group_ids) <= GROUP_BATCH_MAX
    body = {"GroupIdList": list(group_ids), "ResponseFilter": response_filter(hints)}
    try:
        answer = await client.read("get_group_info", body, same_as=same_as)
    except CredentialsError:
        raise
    except VendorError as exc:
        if exc.code == ANSWER_TOO_LARGE and len(group_ids) > 1:
            mid = len(group_ids) // 2
            halves = await asyncio.gather(
                fetch_live(client, group_ids[:mid], hints), fetch_live(client, group_ids[mid:], hints)
            )
            # Two answers: no one digest names them both.
            return LiveBatch(None, _split_parts(halves))
        failure = ReadError(exc.code, str(exc), exc.code in GROUP_NOT_FOUND_CODES, failure_cause(exc))
        return LiveBatch(None, dict.fromkeys(group_ids, failure))
    if answer.decoded is None:
        return LiveBatch(answer.digest, None)
    return LiveBatch(answer.digest, _groups_answered(answer.decoded, group_ids, answer.digest))


def _groups_answered(
    decoded: Mapping[str, Any], group_ids: Sequence[str], digest: str
) -> dict[str, LiveAnswer | ReadError]:
    """Each asked-for group's entry in a batch answer, or why it has none. An entry not of the
    documented shape fails its group (or, naming no group it was asked for, is not used)."""
    infos = decoded.get("GroupInfo")
    if not isinstance(infos, list):
        failure = ReadError(None, f"get_group_info answered GroupInfo as {quote(infos)}, not a list")
        return dict.fromkeys(group_ids, failure)
    found: dict[str, LiveAnswer | ReadError] = {}
    for group_id, info in answered_entries(infos, group_ids, "GroupId"):
        code = info.get("ErrorCode")
        if not is_code(code):
            found[group_id] = ReadError(None, f"the answer's ErrorCode for this group is {quote(code)}, not a code")
        elif code:
            message = f"code {code}: {clip(str(info.get('ErrorInfo', '')), 300)}"
            found[group_id] = ReadError(code, message, code in GROUP_NOT_FOUND_CODES, str(code))
        else:
            try:
                found[group_id] = LiveAnswer.of(info, tuple(map(info.get, _LOOKED_AT)), digest)
            except ValueError as exc:  # nested deeper than any value the diff reads
                found[group_id] = ReadError(None, f"get_group_info answered this group malformed: {exc}")
    missing = [group_id for group_id in group_ids if group_id not in found]
    if missing:
        failure = ReadError(None, "the answer did not include this group")
        found.update(dict.fromkeys(missing, failure))
    return found


def _split_parts(halves: Sequence[LiveBatch]) -> dict[str, LiveAnswer | ReadError]:
    found: dict[str, LiveAnswer | ReadError] = {}
    for half in halves:
        assert half.groups is not None  # read without same_as: always decoded
        for group_id, live in half.groups.items():
            # A part's digest names that part alone: recorded, it would never match a whole answer.
            found[group_id] = LiveAnswer(live.raw, live.digest, None) if isinstance(live, LiveAnswer) else live
    return found


async def read_attrs(client: Caller, group_id: str) -> dict[str, str]:
    """The group's live attribute set. :class:`Malformed` if the answer is not of the
    documented shape (a list of ``{key, value}`` text)."""
    answer = await client.call("get_group_attr", {"GroupId": group_id})
    return _pairs(answer.get("GroupAttrAry"), "get_group_attr", "GroupAttrAry", "an attribute", ("key", "value"))


async def write_base(client: Caller, payload: dict[str, Any]) -> None:
    # Absolute values only: re-sending after a lost answer cannot do harm.
    await client.call("modify_group_base_info", payload)


async def write_attrs(client: Caller, group_id: str, attrs: Mapping[str, str], live: Mapping[str, str]) -> str:
    """Make the group's attribute set exactly ``attrs``; answers the command used."""
    if attrs:
        items = [{"key": k, "value": v} for k, v in attrs.items()]
        await client.call("set_group_attr", {"GroupId": group_id, "GroupAttr": items}, group_id=group_id)
        return "set_group_attr"
    # Whether set_group_attr accepts an empty array is unconfirmed; deleting the live keys is
    # documented for every group type (clear_group_attr is not, for Community groups).
    keys = [{"key": k} for k in live]
    await client.call("delete_group_attr", {"GroupId": group_id, "GroupAttr": keys}, group_id=group_id)
    return "delete_group_attr"
