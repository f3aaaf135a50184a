"""The emulator's HTTP server: the documented envelope, codes, limits and injected faults.

It answers as the vendor documents: HTTP 200 with ``ErrorCode`` for every API-level result
(throttling included), only network faults as other statuses. Faults come from a seeded RNG, so
a run is reproducible. ``/_emulator/*`` endpoints expose state and the call log to tests and tools.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from syncer.emulator.nexconn import DEMO_APP_KEY, DEMO_APP_SECRET, NexconnApi
from syncer.emulator.state import GROUP_TYPES, EmuGroup, SlidingWindow, max_in_window
from syncer.nexconn.api import COMMAND_PATHS as NEXCONN_COMMAND_PATHS
from syncer.seeding import desired_group, live_from_desired
from syncer.tencent.api import (
    ANSWER_TOO_LARGE,
    ATTR_WRITE_COMMANDS,
    COMMAND_BY_PATH,
    GROUP_BATCH_MAX,
    TYPE_RESTRICTED_FIELDS,
)
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
    FACE_URL_MAX_BYTES,
    GROUP_ID_MAX_BYTES,
    INTRODUCTION_MAX_BYTES,
    INVITE_JOIN_OPTIONS,
    NAME_MAX_BYTES,
    NOTIFICATION_MAX_BYTES,
    utf8_len,
)

NEXCONN_COMMANDS = frozenset(NEXCONN_COMMAND_PATHS)

# A well-known demo key: the emulator is not a security boundary, and the demo needs no setup.
DEMO_SDKAPPID = 1400000000
DEMO_SECRET_KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"


class ApiError(Exception):
    def __init__(self, code: int, info: str) -> None:
        super().__init__(info)
        self.code = code
        self.info = info


@dataclass
class EmulatorConfig:
    sdkappid: int = DEMO_SDKAPPID
    secret_key: str = DEMO_SECRET_KEY
    admins: frozenset[str] = frozenset({"administrator"})
    rate_limit: int = 200  # calls per sliding second, per command
    rate_limit_overrides: dict[str, int] = field(default_factory=dict)
    attr_writes_per_group: int = 5
    max_answer_bytes: int = 1 << 20
    # Custom-field keys enabled "in the console"; None accepts any key.
    enabled_custom_keys: frozenset[str] | None = None
    # Faults, each a probability per call, drawn from a RNG seeded with ``seed``.
    latency_s: float = 0.0
    latency_jitter_s: float = 0.0
    fault_10002: float = 0.0
    fault_502: float = 0.0
    fault_drop: float = 0.0
    fault_throttle: float = 0.0
    fault_slow: float = 0.0
    slow_s: float = 8.0
    slow_commands: frozenset[str] | None = None  # None: any command may be slowed
    seed: int = 0
    # Groups grp-0000000 … grp-(N-1) exist as the generator makes them (in sync with
    # syncer.seeding.desired_group), created on first use: a million groups without a million
    # objects, for benchmarks.
    synthetic_groups: int = 0
    # Groups that answer a fixed error code to every call naming them (tests, demos).
    group_faults: dict[str, int] = field(default_factory=dict)
    # Nexconn (syncer/emulator/nexconn.py): its credentials, its documented 100 calls/s per
    # call, and a primary host that answers 503 to everything (the backup, at /backup, works).
    nexconn_app_key: str = DEMO_APP_KEY
    nexconn_app_secret: str = DEMO_APP_SECRET
    nexconn_rate_limit: int = 100
    nexconn_primary_down: bool = False


@dataclass(frozen=True, slots=True)
class CallRecord:
    t: float  # event-loop time when the request arrived
    wall: float  # wall-clock time, to compare with other processes
    command: str
    code: int  # vendor ErrorCode, or -HTTP status, or -1 for a dropped connection
    group_ids: tuple[str, ...]
    host: str = "primary"  # Nexconn: "backup" when the call came to the backup host


class Emulator:
    def __init__(self, config: EmulatorConfig | None = None, groups: Iterable[EmuGroup] = ()) -> None:
        self.config = config or EmulatorConfig()
        self.groups: dict[str, EmuGroup] = {g.group_id: g for g in groups}
        self.log: list[CallRecord] = []
        self._rng = random.Random(self.config.seed)
        self._windows: dict[str, SlidingWindow] = {}
        self._group_attr_windows: dict[str, SlidingWindow] = defaultdict(
            lambda: SlidingWindow(self.config.attr_writes_per_group)
        )
        self._runner: web.AppRunner | None = None
        self._call_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.arrivals = 0  # requests received, answered or not yet
        self._verified_sigs: dict[tuple[str, str, int], int] = {}
        self.base_url = ""
        self.nexconn = NexconnApi(self)

    # -- lifecycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 << 20)
        app.router.add_post("/v4/{service}/{command}", self._handle)
        self.nexconn.routes(app)
        app.router.add_get("/_emulator/groups", self._admin_groups)
        app.router.add_get("/_emulator/stats", self._admin_stats)
        app.router.add_get("/_emulator/log", self._admin_log)
        app.router.add_post("/_emulator/config", self._admin_config)
        app.router.add_post("/_emulator/reset-log", self._admin_reset_log)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        # Stopping does not wait for answers still in their simulated latency.
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None and getattr(server, "sockets", None)
        bound = server.sockets[0].getsockname()  # type: ignore[attr-defined]
        self.base_url = f"http://{host}:{bound[1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- inspection --------------------------------------------------------------------------

    def seed(self, groups: Iterable[EmuGroup]) -> None:
        for group in groups:
            self.groups[group.group_id] = group

    def calls(self, command: str | None = None) -> list[CallRecord]:
        return [r for r in self.log if command is None or r.command == command]

    async def wait_for_calls(self, count: int) -> None:
        """Return once ``count`` calls have arrived, answered or not (bound it with asyncio.timeout)."""
        if self.arrivals >= count:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._call_waiters.append((count, waiter))
        await waiter

    def _wake_call_waiters(self) -> None:
        for count, waiter in list(self._call_waiters):
            if self.arrivals >= count:
                self._call_waiters.remove((count, waiter))
                if not waiter.done():
                    waiter.set_result(None)

    def max_calls_per_window(self) -> dict[str, int]:
        """For each command, the most requests that arrived in any sliding second."""
        times: dict[str, list[float]] = defaultdict(list)
        for record in self.log:
            times[record.command].append(record.t)
        return {command: max_in_window(ts) for command, ts in times.items()}

    def limit_for(self, command: str) -> int:
        default = self.config.nexconn_rate_limit if command in NEXCONN_COMMANDS else self.config.rate_limit
        return self.config.rate_limit_overrides.get(command, default)

    @property
    def rng(self) -> random.Random:
        return self._rng

    def record(self, now: float, command: str, code: int, group_ids: tuple[str, ...], host: str = "primary") -> None:
        self.log.append(CallRecord(now, time.time(), command, code, group_ids, host))

    # -- what every vendor's calls go through ----------------------------------------------

    async def arrive(self, request: web.Request) -> tuple[float, Any]:
        """Stamp a request's arrival and read its JSON body (None if it is not JSON)."""
        now = asyncio.get_running_loop().time()
        # Let every request that arrived with this one take its arrival time too, before any of
        # them is processed: else each would be stamped after all the work queued ahead of it,
        # and a burst would look spread out (a gateway counts arrivals, not its backlog).
        await asyncio.sleep(0)
        self.arrivals += 1
        self._wake_call_waiters()
        try:
            raw = await request.read()
            return now, json.loads(raw) if raw else None
        except ValueError:
            return now, None

    async def network_faults(
        self, request: web.Request, command: str, record: Callable[[int], None]
    ) -> tuple[web.Response | None, bool]:
        """The network's faults, drawn in a fixed order: a dropped connection (raises), latency,
        a 502 (returned). Answers whether the call's answer is to come too late."""
        cfg, rng = self.config, self._rng
        if cfg.fault_drop and rng.random() < cfg.fault_drop:
            record(-1)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # the connection is gone: nothing is answered
        if cfg.latency_s or cfg.latency_jitter_s:
            await asyncio.sleep(cfg.latency_s + rng.uniform(0, cfg.latency_jitter_s))
        if cfg.fault_502 and rng.random() < cfg.fault_502:
            record(-502)
            return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>"), False
        slow = bool(
            cfg.fault_slow
            and (cfg.slow_commands is None or command in cfg.slow_commands)
            and rng.random() < cfg.fault_slow
        )
        return None, slow

    # -- the API -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        now, body = await self.arrive(request)
        path = f"v4/{request.match_info['service']}/{request.match_info['command']}"
        command = COMMAND_BY_PATH.get(path, path)
        cfg, rng = self.config, self._rng
        group_ids = _group_ids_of(body)

        def record(code: int) -> None:
            self.record(now, command, code, group_ids)

        failed, slow = await self.network_faults(request, command, record)
        if failed is not None:
            return failed
        try:
            self._check_envelope(request, body)
            if not self.window(command).admit(now):
                raise ApiError(60007, "REST API call frequency over the limit")
            if cfg.fault_throttle and rng.random() < cfg.fault_throttle:
                raise ApiError(60007, "REST API call frequency over the limit (injected)")
            if cfg.fault_10002 and rng.random() < cfg.fault_10002:
                raise ApiError(10002, "internal server error (injected)")
            assert isinstance(body, dict)
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
        return web.Response(text=text, content_type="application/json")

    def window(self, command: str) -> SlidingWindow:
        window = self._windows.get(command)
        if window is None:
            window = self._windows[command] = SlidingWindow(self.limit_for(command))
        window.limit = self.limit_for(command)  # the configuration may change while it serves
        return window

    def _check_envelope(self, request: web.Request, body: Any) -> None:
        q = request.query
        if q.get("contenttype", "json") != "json":
            raise ApiError(60003, "contenttype must be json")
        try:
            sdkappid = int(q.get("sdkappid", ""))
        except ValueError:
            raise ApiError(60006, "SDKAppID is invalid") from None
        if sdkappid != self.config.sdkappid:
            raise ApiError(70020, "SDKAppID not found")
        random_text = q.get("random", "")
        if not random_text.isdigit() or int(random_text) > 0xFFFFFFFF:
            raise ApiError(60002, "random must be a 32-bit unsigned integer")
        identifier = q.get("identifier", "")
        usersig = q.get("usersig", "")
        now = int(time.time())
        # A UserSig that verified once is good until it expires (for the same identifier):
        # saves the emulator work per call, and so keeps its arrival stamps prompt.
        verified = self._verified_sigs.get((usersig, identifier, sdkappid))
        if verified is None or now > verified:
            try:
                decoded = verify_usersig(
                    usersig, secret_key=self.config.secret_key, sdkappid=sdkappid, identifier=identifier, now=now
                )
            except UserSigError as err:
                raise ApiError(err.code, str(err)) from None
            if len(self._verified_sigs) > 1000:
                self._verified_sigs.clear()
            self._verified_sigs[(usersig, identifier, sdkappid)] = decoded.expires_at
        if identifier not in self.config.admins:
            raise ApiError(60010, "the identifier is not an App admin account")
        if not isinstance(body, dict):
            raise ApiError(60002, "the body is not a JSON object")

    def _dispatch(self, command: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        handler = {
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
        if group_id in self.config.group_faults:
            raise ApiError(self.config.group_faults[group_id], "injected fault for this group")
        if utf8_len(group_id) > GROUP_ID_MAX_BYTES:
            raise ApiError(10015, "invalid group ID")
        group = self._lookup(group_id, keep=for_write)
        if group is None:
            raise ApiError(10010, "the group does not exist or has been dismissed")
        return group

    def _lookup(self, group_id: str, *, keep: bool = False) -> EmuGroup | None:
        """A group by ID; synthetic groups are made on the fly, and kept only once written."""
        group = self.groups.get(group_id)
        if group is None and self.config.synthetic_groups:
            match = _SYNTHETIC_ID.fullmatch(group_id)
            if match and int(match[1]) < self.config.synthetic_groups:
                group = live_from_desired(desired_group(int(match[1])))
                if keep:
                    self.groups[group_id] = group
        return group

    def _get_group_info(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = body.get("GroupIdList")
        if not isinstance(ids, list) or not ids:
            raise ApiError(10004, "GroupIdList is required")
        if len(ids) > GROUP_BATCH_MAX:
            raise ApiError(10004, f"at most {GROUP_BATCH_MAX} groups per call")
        flt = body.get("ResponseFilter")
        base_filter = custom_filter = None
        with_members = flt is None
        if isinstance(flt, dict):
            base_filter = flt.get("GroupBaseInfoFilter")
            custom_filter = flt.get("AppDefinedDataFilter_Group")
            with_members = "MemberInfoFilter" in flt
        infos = []
        for group_id in ids:
            group = self._lookup(group_id) if isinstance(group_id, str) else None
            if not isinstance(group_id, str) or not group_id or utf8_len(group_id) > GROUP_ID_MAX_BYTES:
                infos.append({"GroupId": group_id, "ErrorCode": 10015, "ErrorInfo": "invalid group ID"})
                continue
            if group is None:
                infos.append({"GroupId": group_id, "ErrorCode": 10010, "ErrorInfo": "group not found"})
                continue
            if group_id in self.config.group_faults:
                code = self.config.group_faults[group_id]
                infos.append({"GroupId": group_id, "ErrorCode": code, "ErrorInfo": "injected fault for this group"})
                continue
            fields = group.base_fields()
            if base_filter is not None:
                wanted = set(base_filter) | {"GroupId"}
                if "MuteAllMember" in wanted or "ShutUpAllMember" in wanted:
                    wanted |= {"MuteAllMember", "ShutUpAllMember"}
                fields = {k: v for k, v in fields.items() if k in wanted}
            info: dict[str, Any] = {"ErrorCode": 0, "ErrorInfo": "", **fields}
            # Custom fields come back unfiltered without a ResponseFilter, else only those named.
            if flt is None or custom_filter is not None:
                keys = group.app_defined_data.keys() if custom_filter is None else custom_filter
                info["AppDefinedData"] = [
                    {"Key": k, "Value": group.app_defined_data[k]} for k in keys if k in group.app_defined_data
                ]
            if with_members:
                info["MemberList"] = group.member_list()
            infos.append(info)
        answer = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "GroupInfo": infos}
        if len(json.dumps(answer, ensure_ascii=False).encode()) > self.config.max_answer_bytes:
            raise ApiError(ANSWER_TOO_LARGE, "the answer exceeds the maximum packet length of 1 MB")
        return answer

    def _modify_group_base_info(self, body: dict[str, Any]) -> dict[str, Any]:
        group = self._group(body, for_write=True)
        refused = TYPE_RESTRICTED_FIELDS.get(group.type, frozenset())
        changes: dict[str, Any] = {}
        for field_name, limit in (
            ("Name", NAME_MAX_BYTES),
            ("Introduction", INTRODUCTION_MAX_BYTES),
            ("Notification", NOTIFICATION_MAX_BYTES),
            ("FaceUrl", FACE_URL_MAX_BYTES),
        ):
            if field_name in body:
                value = body[field_name]
                if not isinstance(value, str):
                    raise ApiError(10004, f"{field_name} must be a string")
                if utf8_len(value) > limit:
                    raise ApiError(10004, f"{field_name} is longer than {limit} bytes")
                if field_name == "Name" and value == "":
                    raise ApiError(10004, "Name must not be empty")
                changes[field_name] = value
        for field_name in ("MaxMemberNum", "ApplyJoinOption", "InviteJoinOption"):
            if field_name in body and field_name in refused:
                raise ApiError(10007, f"{field_name} cannot be modified for {group.type} groups")
        if "MaxMemberNum" in body:
            value = body["MaxMemberNum"]
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ApiError(10004, "MaxMemberNum must be a positive integer")
            changes["MaxMemberNum"] = value
        for field_name, allowed in (
            ("ApplyJoinOption", APPLY_JOIN_OPTIONS),
            ("InviteJoinOption", INVITE_JOIN_OPTIONS),
        ):
            if field_name in body:
                if body[field_name] not in allowed:
                    raise ApiError(10004, f"{field_name} must be one of {', '.join(allowed)}")
                changes[field_name] = body[field_name]
        for field_name in ("MuteAllMember", "ShutUpAllMember"):
            if field_name in body:
                if body[field_name] not in ("On", "Off"):
                    raise ApiError(10004, f"{field_name} must be On or Off")
                changes["MuteAllMember"] = body[field_name]
        custom = dict(group.app_defined_data)
        if "AppDefinedData" in body:
            items = body["AppDefinedData"]
            if not isinstance(items, list):
                raise ApiError(10004, "AppDefinedData must be an array")
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
                    raise ApiError(10004, "AppDefinedData items are {Key, Value}")
                key, value = item["Key"], item.get("Value", "")
                enabled = self.config.enabled_custom_keys
                if enabled is not None and key not in enabled:
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
        # Validated as a whole: the change applies entirely or not at all.
        for field_name, value in changes.items():
            setattr(group, _ATTR_OF_FIELD[field_name], value)
        group.app_defined_data = custom
        group.info_seq += 1
        return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}

    def _get_group_attr(self, body: dict[str, Any]) -> dict[str, Any]:
        group = self._group(body)
        items = [{"key": k, "value": v} for k, v in group.attrs.items()]
        return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "GroupAttrAry": items}

    def _write_attrs(self, command: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        group = self._group(body, for_write=True)
        if command == "clear_group_attr" and group.type == "Community":
            raise ApiError(10007, "clear_group_attr is not supported for Community groups")
        items: list[dict[str, Any]] = []
        if command != "clear_group_attr":
            raw = body.get("GroupAttr")
            if not isinstance(raw, list):
                raise ApiError(10004, "GroupAttr is a required array")
            items = raw
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise ApiError(10004, "GroupAttr items are {key, value}")
            if utf8_len(item["key"]) > ATTR_KEY_MAX_BYTES:
                raise ApiError(10045, f"attribute key longer than {ATTR_KEY_MAX_BYTES} bytes")
            if command != "delete_group_attr":
                value = item.get("value")
                if not isinstance(value, str):
                    raise ApiError(10004, "attribute values are strings")
                if utf8_len(value) > ATTR_VALUE_MAX_BYTES:
                    raise ApiError(10046, f"attribute value longer than {ATTR_VALUE_MAX_BYTES} bytes")
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
        return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}

    # -- admin endpoints ---------------------------------------------------------------------

    async def _admin_groups(self, request: web.Request) -> web.Response:
        return web.json_response({gid: g.snapshot() for gid, g in self.groups.items()})

    async def _admin_stats(self, request: web.Request) -> web.Response:
        calls: dict[str, int] = defaultdict(int)
        codes: dict[str, int] = defaultdict(int)
        for record in self.log:
            calls[record.command] += 1
            codes[f"{record.command}:{record.code}"] += 1
        return web.json_response({"calls": calls, "codes": codes, "max_calls_per_window": self.max_calls_per_window()})

    async def _admin_config(self, request: web.Request) -> web.Response:
        """Change limits, latency or faults while serving: {"rate_limit": 5000, "latency_s": 0.02}."""
        changes = await request.json()
        for name, value in changes.items():
            if not hasattr(self.config, name) or name in ("secret_key", "sdkappid", "nexconn_app_secret"):
                return web.json_response({"error": f"unknown setting {name!r}"}, status=400)
            setattr(self.config, name, value)
        return web.json_response({"ok": True})

    async def _admin_reset_log(self, request: web.Request) -> web.Response:
        self.log.clear()
        return web.json_response({"ok": True})

    async def _admin_log(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "t": r.t,
                    "wall": r.wall,
                    "command": r.command,
                    "code": r.code,
                    "group_ids": list(r.group_ids),
                    "host": r.host,
                }
                for r in self.log
            ]
        )


_SYNTHETIC_ID = re.compile(r"grp-(\d{7})")

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


def _group_ids_of(body: Any) -> tuple[str, ...]:
    if not isinstance(body, dict):
        return ()
    if isinstance(body.get("GroupIdList"), list):
        return tuple(str(g) for g in body["GroupIdList"])
    if "GroupId" in body:
        return (str(body["GroupId"]),)
    return ()


__all__ = ["DEMO_SDKAPPID", "DEMO_SECRET_KEY", "GROUP_TYPES", "EmuGroup", "Emulator", "EmulatorConfig"]
