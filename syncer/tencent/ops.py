"""Tencent's reads and writes for one batch or group, on top of :class:`TencentClient`."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from syncer import jsoncodec
from syncer.client import ReadAnswer
from syncer.db.store import Row
from syncer.errors import CredentialsError, VendorError
from syncer.tencent.api import ANSWER_TOO_LARGE, GROUP_BATCH_MAX
from syncer.tencent.models import BASE_FIELDS, LiveGroup
from syncer.vendor import LiveAnswer, LiveBatch, ReadError

# What plan_group reads of a group's answer (through parse_live): its digest is taken over these.
_LOOKED_AT = ("Type", *BASE_FIELDS.values(), "ShutUpAllMember", "AppDefinedData")


class Caller(Protocol):
    async def call(self, command: str, body: dict[str, Any], *, group_id: str | None = None) -> dict[str, Any]: ...

    async def read(self, command: str, body: dict[str, Any], *, same_as: str | None) -> ReadAnswer: ...


def response_filter(rows: Sequence[Row]) -> dict[str, Any]:
    """Only the base fields this batch manages, plus Type; only managed custom keys; no members.

    ``rows``: desired rows as sql/vendors/tencent.sql's pages answer them, undecoded: their
    ``shape`` names the base columns set and the custom fields (a seen batch's row: each of its
    distinct shapes, one per line), so that a batch of rows found unchanged is read without
    decoding any of them.
    """
    columns: set[str] = set()
    keys: dict[str, None] = {}  # in first-seen order
    for shape in dict.fromkeys(row["shape"] for row in rows):  # rows mostly share one or two
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


def parse_live(info: Mapping[str, Any]) -> LiveGroup:
    base = {k: v for k, v in info.items() if k not in ("ErrorCode", "ErrorInfo", "AppDefinedData", "MemberList")}
    mute = info.get("MuteAllMember", info.get("ShutUpAllMember"))
    base.pop("ShutUpAllMember", None)
    if mute is not None:
        base["MuteAllMember"] = mute
    custom = {
        str(item.get("Key")): str(item.get("Value", ""))
        for item in info.get("AppDefinedData") or ()
        if isinstance(item, dict)
    }
    return LiveGroup(str(info.get("GroupId")), str(info.get("Type", "")), base, custom)


async def fetch_live(
    client: Caller, group_ids: Sequence[str], rows: Sequence[Row], same_as: str | None = None
) -> LiveBatch:
    """Read up to 50 groups in one call; ``rows``: their desired rows (undecoded: only their
    shapes are read, for the filter). An answer over 1 MB (10018) splits the batch in halves.
    Each group's answer comes undecoded (see :func:`parse_live`), with its digest; an answer
    whose digest is ``same_as`` is not decoded at all."""
    assert 0 < len(group_ids) <= GROUP_BATCH_MAX
    body = {"GroupIdList": list(group_ids), "ResponseFilter": response_filter(rows)}
    try:
        answer = await client.read("get_group_info", body, same_as=same_as)
    except CredentialsError:
        raise
    except VendorError as exc:
        if exc.code == ANSWER_TOO_LARGE and len(group_ids) > 1:
            mid = len(group_ids) // 2
            halves = await asyncio.gather(
                fetch_live(client, group_ids[:mid], rows), fetch_live(client, group_ids[mid:], rows)
            )
            # Two answers: no one digest names them both.
            return LiveBatch(None, _split_parts(halves))
        failure = ReadError(exc.code, str(exc))
        return LiveBatch(None, dict.fromkeys(group_ids, failure))
    if answer.decoded is None:
        return LiveBatch(answer.digest, None)
    digest = answer.digest
    found: dict[str, LiveAnswer | ReadError] = {}
    for info in answer.decoded.get("GroupInfo") or ():
        group_id = str(info.get("GroupId"))
        code = int(info.get("ErrorCode", 0))
        if code:
            found[group_id] = ReadError(code, f"code {code}: {info.get('ErrorInfo', '')}")
        else:
            found[group_id] = LiveAnswer.of(info, tuple(map(info.get, _LOOKED_AT)), digest)
    missing = [group_id for group_id in group_ids if group_id not in found]
    if missing:
        failure = ReadError(None, "the answer did not include this group")
        found.update(dict.fromkeys(missing, failure))
    return LiveBatch(digest, found)


def _split_parts(halves: Sequence[LiveBatch]) -> dict[str, object]:
    found: dict[str, object] = {}
    for half in halves:
        assert half.groups is not None  # read without same_as: always decoded
        for group_id, live in half.groups.items():
            # A part's digest names that part alone: recorded, it would never match a whole answer.
            found[group_id] = LiveAnswer(live.raw, live.digest, None) if isinstance(live, LiveAnswer) else live
    return found


async def read_attrs(client: Caller, group_id: str) -> dict[str, str]:
    answer = await client.call("get_group_attr", {"GroupId": group_id})
    return {str(i["key"]): str(i.get("value", "")) for i in answer.get("GroupAttrAry") or () if "key" in i}


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
