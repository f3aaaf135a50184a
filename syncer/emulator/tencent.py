"""Tencent Cloud Chat's side of the emulator: the REST envelope (``/v4/<service>/<command>``,
UserSig, admin identifier), its groups, and the commands syncer uses, each as the vendor
documents it (tencent-facts.md) and strict where the documents are silent.

It shares the emulator's log, limits, faults and RNG (:class:`syncer.emulator.server.Emulator`),
as Nexconn's side (``nexconn.py``) does.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from syncer.emulator.state import EmuGroup, SlidingWindow, ids_named
from syncer.tencent.api import (
    ANSWER_TOO_LARGE,
    ATTR_WRITE_COMMANDS,
    COMMAND_BY_PATH,
    GROUP_BATCH_MAX,
    TYPE_RESTRICTED_FIELDS,
)
from syncer.tencent.models import BASE_FIELDS
from syncer.tencent.seeding import desired_group, live_from_desired
from syncer.tencent.usersig import UserSigError, verify_usersig
from syncer.tencent.validation import (
    APPLY_JOIN_OPTIONS,
    ATTR_KEY_MAX_BYTES,
    ATTR_MAX_KEYS,
    ATTR_TOTAL_VALUE_MAX_BYTES,
    ATTR_VALUE_MAX_BYTES,
    CUSTOM_KEY_MAX_BYTES,
    CUSTOM_MAX_KEYS,
    CUSTOM_VALUE_MAX_BYTES,
    GROUP_ID_MAX_BYTES,
    INVITE_JOIN_OPTIONS,
    TEXT_LIMITS,
    utf8_len,
)

if TYPE_CHECKING:
    from syncer.emulator.server import Emulator

# A well-known demo key: the emulator is not a security boundary, and the demo needs no setup.
DEMO_SDKAPPID = 1400000000
DEMO_SECRET_KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"

_SYNTHETIC_ID = re.compile(r"grp-(\d{7})")
_TEXT_LIMITS = tuple((BASE_FIELDS[column], limit) for column, limit in TEXT_LIMITS)  # by the API's field names
_OPTIONS = (("ApplyJoinOption", APPLY_JOIN_OPTIONS), ("InviteJoinOption", INVITE_JOIN_OPTIONS))
_ATTR_OF_FIELD = {
    "Name": "name",
    "Introduction": "introduction",
    "Notification": "notification",
    "FaceUrl": "face_url",
    "MaxMemberNum": "max_member_num",
    "ApplyJoinOption": "apply_join_option",
    "InviteJoinOption": "invite_join_option",
    "MuteAllMember": "mute_all_member",
}
_OK = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


class ApiError(Exception):
    def __init__(self, code: int, info: str) -> None:
        super().__init__(info)
        self.code = code
        self.info = info


class TencentApi:
    """Tencent's calls and groups."""

    def __init__(self, emulator: Emulator) -> None:
        self._emu = emulator
        self.groups: dict[str, EmuGroup] = {}
        self._group_attr_windows: dict[str, SlidingWindow] = defaultdict(
            lambda: SlidingWindow(self._emu.config.attr_writes_per_group)
        )
        self._verified_sigs: dict[tuple[str, str, int], int] = {}

    def routes(self, app: web.Application) -> None:
        # Every method: the vendor answers a GET with HTTP 200 and an error code, as any API-level result.
        app.router.add_route("*", "/v4/{service}/{command}", self._handle)
        app.router.add_get("/_emulator/groups", self._admin_groups)

    async def _admin_groups(self, request: web.Request) -> web.Response:
        return web.json_response({gid: g.snapshot() for gid, g in self.groups.items()})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        emu = self._emu
        cfg, rng = emu.config, emu.rng
        now, body = await emu.arrive(request)
        path = f"v4/{request.match_info['service']}/{request.match_info['command']}"
        command = COMMAND_BY_PATH.get(path, path)
        group_ids = ids_named(body, "GroupIdList", "GroupId")

        def record(code: int) -> None:
            emu.record(now, command, code, group_ids)

        failed, slow = await emu.network_faults(request, command, record)
        if failed is not None:
            return failed
        try:
            self._check_envelope(request, body)
            if not emu.window(command).admit(now):
                raise ApiError(60007, "REST API call frequency over the limit")
            if cfg.fault_throttle and rng.random() < cfg.fault_throttle:
                raise ApiError(60007, "REST API call frequency over the limit (injected)")
            if cfg.fault_10002 and rng.random() < cfg.fault_10002:
                raise ApiError(10002, "internal server error (injected)")
            assert isinstance(body, dict)
            if command in cfg.disabled_commands:
                raise ApiError(10026, "the command is disabled for this app")
            answer = self._dispatch(command, body, now)
            code = 0
        except ApiError as err:
            answer = {"ActionStatus": "FAIL", "ErrorCode": err.code, "ErrorInfo": err.info}
            code = err.code
        record(code)
        text = json.dumps(answer, ensure_ascii=False)
        if slow:
            # The call took effect, but the answer comes too late for any sane client timeout.
            await asyncio.sleep(cfg.slow_s)
        headers = None
        if cfg.clock_offset_s:
            headers = {"Date": email.utils.formatdate(time.time() + cfg.clock_offset_s, usegmt=True)}
        return web.Response(text=text, content_type="application/json", headers=headers)

    def _check_envelope(self, request: web.Request, body: Any) -> None:
        q, cfg = request.query, self._emu.config
        if request.method != "POST":
            raise ApiError(60002, f"HTTP method {request.method} is not supported: POST only")
        if q.get("contenttype") != "json":
            raise ApiError(60003, "contenttype must be json")
        try:
            sdkappid = int(q.get("sdkappid", ""))
        except ValueError:
            raise ApiError(60006, "SDKAppID is invalid") from None
        if sdkappid != cfg.sdkappid:
            raise ApiError(70020, "SDKAppID not found")
        random_text = q.get("random", "")
        if not random_text.isdigit() or int(random_text) > 0xFFFFFFFF:
            raise ApiError(60002, "random must be a 32-bit unsigned integer")
        identifier = q.get("identifier", "")
        self._check_usersig(q.get("usersig", ""), identifier, sdkappid)
        if identifier not in cfg.admins:
            raise ApiError(60010, "the identifier is not an App admin account")
        if not isinstance(body, dict):
            raise ApiError(60002, "the body is not a JSON object")

    def _check_usersig(self, usersig: str, identifier: str, sdkappid: int) -> None:
        now = int(time.time() + self._emu.config.clock_offset_s)
        # A UserSig that verified once is good until it expires (for the same identifier):
        # saves the emulator work per call, and so keeps its arrival stamps prompt.
        verified = self._verified_sigs.get((usersig, identifier, sdkappid))
        if verified is not None and now <= verified:
            return
        try:
            decoded = verify_usersig(
                usersig, secret_key=self._emu.config.secret_key, sdkappid=sdkappid, identifier=identifier, now=now
            )
        except UserSigError as err:
            raise ApiError(err.code, str(err)) from None
        if len(self._verified_sigs) > 1000:
            self._verified_sigs.clear()
        self._verified_sigs[(usersig, identifier, sdkappid)] = decoded.expires_at

    def _dispatch(self, command: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = {
            "get_group_info": self._get_group_info,
            "modify_group_base_info": self._modify_group_base_info,
            "get_group_attr": self._get_group_attr,
        }.get(command)
        if handler is not None:
            return handler(body)
        if command in ATTR_WRITE_COMMANDS:
            return self._write_attrs(command, body, now)
        raise ApiError(10003, "invalid command")

    def _group(self, body: dict[str, Any], *, for_write: bool = False) -> EmuGroup:
        group_id = body.get("GroupId")
        if not isinstance(group_id, str) or not group_id:
            raise ApiError(10004, "GroupId is required")
        faults = self._emu.config.group_faults
        if group_id in faults:
            raise ApiError(faults[group_id], "injected fault for this group")
        if utf8_len(group_id) > GROUP_ID_MAX_BYTES:
            raise ApiError(10015, "invalid group ID")
        group = self._lookup(group_id, keep=for_write)
        if group is None:
            raise ApiError(10010, "the group does not exist or has been dismissed")
        return group

    def _lookup(self, group_id: str, *, keep: bool = False) -> EmuGroup | None:
        """A group by ID; synthetic groups are made on the fly, and kept only once written."""
        group = self.groups.get(group_id)
        synthetic = self._emu.config.synthetic_groups
        if group is None and synthetic:
            match = _SYNTHETIC_ID.fullmatch(group_id)
            if match and int(match[1]) < synthetic:
                group = live_from_desired(desired_group(int(match[1])))
                if keep:
                    self.groups[group_id] = group
        return group

    # -- get_group_info -----------------------------------------------------------------------

    def _get_group_info(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = body.get("GroupIdList")
        if not isinstance(ids, list) or not ids:
            raise ApiError(10004, "GroupIdList is required")
        if len(ids) > GROUP_BATCH_MAX:
            raise ApiError(10004, f"at most {GROUP_BATCH_MAX} groups per call")
        flt = body.get("ResponseFilter")
        if flt is not None and not isinstance(flt, dict):
            raise ApiError(10004, "ResponseFilter must be an object")
        custom_filter = flt.get("AppDefinedDataFilter_Group") if flt is not None else None
        if custom_filter is not None:
            if not isinstance(custom_filter, list) or not all(isinstance(k, str) for k in custom_filter):
                raise ApiError(10004, "AppDefinedDataFilter_Group must be an array of keys")
            if not set(custom_filter) <= self._emu.config.enabled_custom_keys:
                raise ApiError(10004, "all defined key is invalid")
        answer = {**_OK, "GroupInfo": [self._info(group_id, flt) for group_id in ids]}
        if len(json.dumps(answer, ensure_ascii=False).encode()) > self._emu.config.max_answer_bytes:
            raise ApiError(ANSWER_TOO_LARGE, "the answer exceeds the maximum packet length of 1 MB")
        return answer

    def _info(self, group_id: object, flt: object) -> dict[str, Any]:
        """One entry of GroupInfo: the group as ``flt`` (the ResponseFilter, if any) asks for it."""
        if not isinstance(group_id, str) or not group_id or utf8_len(group_id) > GROUP_ID_MAX_BYTES:
            return {"GroupId": group_id, "ErrorCode": 10015, "ErrorInfo": "invalid group ID"}
        group = self._lookup(group_id)
        if group is None:
            return {"GroupId": group_id, "ErrorCode": 10010, "ErrorInfo": "group not found"}
        faults = self._emu.config.group_faults
        if group_id in faults:
            return {"GroupId": group_id, "ErrorCode": faults[group_id], "ErrorInfo": "injected fault for this group"}
        base_filter = flt.get("GroupBaseInfoFilter") if isinstance(flt, dict) else None
        custom_filter = flt.get("AppDefinedDataFilter_Group") if isinstance(flt, dict) else None
        fields = group.base_fields()
        if flt is not None:
            # With a filter, only what it names comes back: no GroupBaseInfoFilter, no base field.
            wanted = set(base_filter or ()) | {"GroupId"}
            if "MuteAllMember" in wanted or "ShutUpAllMember" in wanted:
                wanted |= {"MuteAllMember", "ShutUpAllMember"}
            fields = {k: v for k, v in fields.items() if k in wanted}
        info: dict[str, Any] = {"ErrorCode": 0, "ErrorInfo": "", **fields}
        # Custom fields come back unfiltered without a ResponseFilter, else only those named.
        if flt is None or custom_filter is not None:
            keys = group.app_defined_data.keys() if custom_filter is None else custom_filter
            data = group.app_defined_data
            info["AppDefinedData"] = [{"Key": k, "Value": data[k]} for k in keys if k in data]
        if flt is None or (isinstance(flt, dict) and "MemberInfoFilter" in flt):
            info["MemberList"] = group.member_list()
        return info

    # -- modify_group_base_info ---------------------------------------------------------------

    def _modify_group_base_info(self, body: dict[str, Any]) -> dict[str, Any]:
        group = self._group(body, for_write=True)
        changes = _text_changes(body)
        refused = TYPE_RESTRICTED_FIELDS.get(group.type, frozenset())
        for field_name in ("MaxMemberNum", "ApplyJoinOption", "InviteJoinOption"):
            if field_name in body and field_name in refused:
                raise ApiError(10007, f"{field_name} cannot be modified for {group.type} groups")
        changes |= _setting_changes(body)
        custom = self._custom_after(group, body.get("AppDefinedData")) if "AppDefinedData" in body else None
        # Validated as a whole: the change applies entirely or not at all.
        for field_name, value in changes.items():
            setattr(group, _ATTR_OF_FIELD[field_name], value)
        if custom is not None:
            group.app_defined_data = custom
        group.info_seq += 1
        return dict(_OK)

    def _custom_after(self, group: EmuGroup, items: object) -> dict[str, str]:
        """The group's custom fields once ``items`` (AppDefinedData) apply: "" deletes a key."""
        if not isinstance(items, list):
            raise ApiError(10004, "AppDefinedData must be an array")
        enabled = self._emu.config.enabled_custom_keys
        custom = dict(group.app_defined_data)
        for item in items:
            # Only "Value": "" is documented to delete a key: an item without a Value is refused.
            if not isinstance(item, dict) or not isinstance(item.get("Key"), str) or "Value" not in item:
                raise ApiError(10004, "AppDefinedData items are {Key, Value}")
            key, value = item["Key"], item["Value"]
            if key not in enabled:
                raise ApiError(10004, "all defined key is invalid")
            if not isinstance(value, str):
                raise ApiError(10004, "AppDefinedData Value must be a string")
            if utf8_len(key) > CUSTOM_KEY_MAX_BYTES:
                raise ApiError(10004, f"AppDefinedData key longer than {CUSTOM_KEY_MAX_BYTES} bytes")
            if utf8_len(value) > CUSTOM_VALUE_MAX_BYTES:
                raise ApiError(10004, f"AppDefinedData value longer than {CUSTOM_VALUE_MAX_BYTES} bytes")
            if value == "":
                custom.pop(key, None)
            else:
                custom[key] = value
        if len(custom) > CUSTOM_MAX_KEYS:
            raise ApiError(10004, f"a group has at most {CUSTOM_MAX_KEYS} custom fields")
        return custom

    # -- attributes ---------------------------------------------------------------------------

    def _get_group_attr(self, body: dict[str, Any]) -> dict[str, Any]:
        group = self._group(body)
        return {**_OK, "GroupAttrAry": [{"key": k, "value": v} for k, v in group.attrs.items()]}

    def _write_attrs(self, command: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        group = self._group(body, for_write=True)
        if command == "clear_group_attr" and group.type == "Community":
            raise ApiError(10007, "clear_group_attr is not supported for Community groups")
        items = [] if command == "clear_group_attr" else _attr_items(body, with_values=command != "delete_group_attr")
        if command == "set_group_attr":
            new = {item["key"]: item["value"] for item in items}
        elif command == "modify_group_attr":
            new = {**group.attrs, **{item["key"]: item["value"] for item in items}}
        elif command == "delete_group_attr":
            new = {k: v for k, v in group.attrs.items() if k not in {item["key"] for item in items}}
        else:
            new = {}
        if len(new) > ATTR_MAX_KEYS:
            raise ApiError(10047, f"a group has at most {ATTR_MAX_KEYS} attributes")
        if sum(utf8_len(v) for v in new.values()) > ATTR_TOTAL_VALUE_MAX_BYTES:
            raise ApiError(10048, f"attribute values exceed {ATTR_TOTAL_VALUE_MAX_BYTES} bytes in all")
        if not self._group_attr_windows[group.group_id].admit(now):
            raise ApiError(10049, "attribute writes to this group are limited to 5 per second")
        group.attrs = new
        return dict(_OK)


def _text_changes(body: dict[str, Any]) -> dict[str, Any]:
    changes = {}
    for field_name, limit in _TEXT_LIMITS:
        if field_name not in body:
            continue
        value = body[field_name]
        if not isinstance(value, str):
            raise ApiError(10004, f"{field_name} must be a string")
        if utf8_len(value) > limit:
            raise ApiError(10004, f"{field_name} is longer than {limit} bytes")
        if field_name == "Name" and value == "":
            raise ApiError(10004, "Name must not be empty")
        changes[field_name] = value
    return changes


def _setting_changes(body: dict[str, Any]) -> dict[str, Any]:
    """MaxMemberNum, the join options and the mute switch (under either of its names)."""
    changes: dict[str, Any] = {}
    if "MaxMemberNum" in body:
        value = body["MaxMemberNum"]
        if type(value) is not int or value <= 0:
            raise ApiError(10004, "MaxMemberNum must be a positive integer")
        changes["MaxMemberNum"] = value
    for field_name, allowed in _OPTIONS:
        if field_name in body:
            if body[field_name] not in allowed:
                raise ApiError(10004, f"{field_name} must be one of {', '.join(allowed)}")
            changes[field_name] = body[field_name]
    for field_name in ("MuteAllMember", "ShutUpAllMember"):
        if field_name in body:
            if body[field_name] not in ("On", "Off"):
                raise ApiError(10004, f"{field_name} must be On or Off")
            changes["MuteAllMember"] = body[field_name]
    return changes


def _attr_items(body: dict[str, Any], *, with_values: bool) -> list[dict[str, Any]]:
    items = body.get("GroupAttr")
    if not isinstance(items, list):
        raise ApiError(10004, "GroupAttr is a required array")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise ApiError(10004, "GroupAttr items are {key, value}")
        if utf8_len(item["key"]) > ATTR_KEY_MAX_BYTES:
            raise ApiError(10045, f"attribute key longer than {ATTR_KEY_MAX_BYTES} bytes")
        if with_values:
            value = item.get("value")
            if not isinstance(value, str):
                raise ApiError(10004, "attribute values are strings")
            if utf8_len(value) > ATTR_VALUE_MAX_BYTES:
                raise ApiError(10046, f"attribute value longer than {ATTR_VALUE_MAX_BYTES} bytes")
    return items
