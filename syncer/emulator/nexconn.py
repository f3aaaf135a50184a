"""The emulator's Nexconn group channels: profile/list and profile/update, as documented.

Errors are ``{"code": N, "errorMessage": …}``: HTTP 401 for signatures (1004) and unknown app
keys (1001), HTTP 429 with 1008 for throttling, HTTP 200 otherwise. Answers carry the portrait
both as ``portraitUrl`` and as ``portrait_url``, since the vendor's docs show both. The same
API is served under ``/backup`` as the backup host, and the call log says which host was used.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from syncer.emulator.state import ids_named
from syncer.nexconn.api import (
    ANNOUNCEMENT_MAX,
    CHANNEL_BATCH_MAX,
    CHANNEL_ID_MAX,
    CHANNEL_NOT_FOUND,
    COMMAND_PATHS,
    EXT_KEY_MAX,
    EXT_MAX_PAIRS,
    EXT_PREFIX,
    EXT_VALUE_MAX,
    INTRODUCTION_MAX,
    INVALID_PARAMETER,
    NAME_MAX,
    PERMISSIONS,
    PORTRAIT_URL_MAX,
    THROTTLED,
    TIMED_OUT_INSIDE,
    VALUE_TOO_LONG,
)
from syncer.nexconn.client import signature

if TYPE_CHECKING:
    from syncer.emulator.server import Emulator

# Well-known demo credentials: the emulator is not a security boundary.
DEMO_APP_KEY = "demoappkey01"
DEMO_APP_SECRET = "demo-nexconn-secret"

_CHANNEL_ID = re.compile(rf"[A-Za-z0-9]{{1,{CHANNEL_ID_MAX}}}")
_PROFILE_LIMITS = {
    "name": NAME_MAX,
    "introduction": INTRODUCTION_MAX,
    "announcement": ANNOUNCEMENT_MAX,
    "portraitUrl": PORTRAIT_URL_MAX,
}
_PERMISSION_MAX = dict(PERMISSIONS.values())
COMMAND_BY_PATH = {path: command for command, path in COMMAND_PATHS.items()}


class NexconnError(Exception):
    def __init__(self, code: int, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _no_permissions() -> dict[str, int]:
    return dict.fromkeys(("joinPerm", "removePerm", "memInvitePerm", "invitePerm", "profilePerm", "memProfilePerm"), 0)


@dataclass(slots=True)
class EmuChannel:
    """A group channel as the vendor keeps it: its profile by profile/update's groupProfile keys
    (name, introduction, announcement, portraitUrl), its permissions and its ext profile."""

    channel_id: str
    profile: dict[str, str] = field(default_factory=dict)
    permissions: dict[str, int] = field(default_factory=_no_permissions)
    ext: dict[str, str] = field(default_factory=dict)
    owner: str = "owner"
    created_at: int = 1_700_000_000_000

    def answer(self) -> dict[str, Any]:
        texts = {key: self.profile.get(key, "") for key in ("name", "introduction", "announcement", "portraitUrl")}
        return {
            "channelId": self.channel_id,
            "name": texts.pop("name"),
            # The docs' example answers portrait_url where requests say portraitUrl: both (nexconn-facts.md).
            "groupProfile": {**texts, "portrait_url": texts["portraitUrl"]},
            "groupExtProfile": dict(self.ext),
            "permissions": dict(self.permissions),
            "owner": self.owner,
            "createdAt": self.created_at,
            "memberCount": 1,
        }


class NexconnApi:
    """Nexconn's calls, sharing the emulator's log, limits, faults and RNG."""

    def __init__(self, emulator: Emulator) -> None:
        self._emu = emulator
        self.channels: dict[str, EmuChannel] = {}

    def routes(self, app: web.Application) -> None:
        for path in COMMAND_PATHS.values():
            app.router.add_post(f"/{path}", self._handle)
            app.router.add_post(f"/backup/{path}", self._handle)
        app.router.add_get("/_emulator/channels", self._admin_channels)

    def seed(self, channels: list[EmuChannel]) -> None:
        for channel in channels:
            self.channels[channel.channel_id] = channel

    async def _admin_channels(self, request: web.Request) -> web.Response:
        return web.json_response({cid: c.answer() for cid, c in self.channels.items()})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        emu, cfg = self._emu, self._emu.config
        now, body = await emu.arrive(request)
        backup = request.path.startswith("/backup/")
        command = COMMAND_BY_PATH.get(request.path.removeprefix("/backup").lstrip("/"), request.path)
        ids = ids_named(body, "channelIds", "channelId")

        def record(code: int) -> None:
            emu.record(now, command, code, ids, host="backup" if backup else "primary")

        rng = emu.rng
        if not backup and cfg.nexconn_primary_down:
            record(-503)
            return web.Response(status=503, text="Service Unavailable")
        failed, slow = await emu.network_faults(request, command, record)
        if failed is not None:
            return failed
        try:
            self._check_signature(request)
            if not emu.window(command).admit(now):
                raise NexconnError(THROTTLED, "too many requests", status=429)
            if cfg.fault_throttle and rng.random() < cfg.fault_throttle:
                raise NexconnError(THROTTLED, "too many requests (injected)", status=429)
            if cfg.fault_10002 and rng.random() < cfg.fault_10002:
                raise NexconnError(TIMED_OUT_INSIDE, "internal timeout (injected)")
            if not isinstance(body, dict):
                raise NexconnError(INVALID_PARAMETER, "the body must be a JSON object")
            answer = self._list(body) if command == "profile_list" else self._update(body)
            status, code = 200, 0
        except NexconnError as err:
            answer, status, code = {"code": err.code, "errorMessage": err.message}, err.status, err.code
        record(code)
        if slow:
            await asyncio.sleep(cfg.slow_s)  # applied, but answered too late
        return web.json_response(answer, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    def _check_signature(self, request: web.Request) -> None:
        cfg = self._emu.config
        headers = request.headers
        if headers.get("App-Key") != cfg.nexconn_app_key:
            raise NexconnError(1001, "App-Key is not valid", status=401)
        nonce, timestamp, sent = headers.get("Nonce", ""), headers.get("Timestamp", ""), headers.get("Signature", "")
        if not nonce or len(nonce) > 18 or not timestamp.isdigit():
            raise NexconnError(1004, "Nonce and Timestamp are required", status=401)
        if not hmac.compare_digest(signature(cfg.nexconn_app_secret, nonce, timestamp), sent):
            raise NexconnError(1004, "signature verification failed", status=401)

    def _list(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = body.get("channelIds")
        if not isinstance(ids, list) or not ids or len(ids) > CHANNEL_BATCH_MAX:
            raise NexconnError(INVALID_PARAMETER, f"channelIds: 1 to {CHANNEL_BATCH_MAX} IDs")
        faults = self._emu.config.group_faults
        if any(str(i) in faults for i in ids):
            raise NexconnError(faults[next(str(i) for i in ids if str(i) in faults)], "injected fault for a channel")
        profiles = [self.channels[i].answer() for i in ids if isinstance(i, str) and i in self.channels]
        return {"code": 0, "result": {"profiles": profiles}}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel_id = body.get("channelId")
        if not isinstance(channel_id, str) or not _CHANNEL_ID.fullmatch(channel_id):
            raise NexconnError(INVALID_PARAMETER, "channelId: up to 64 letters and digits")
        if channel_id in self._emu.config.group_faults:
            raise NexconnError(self._emu.config.group_faults[channel_id], "injected fault for this channel")
        channel = self.channels.get(channel_id)
        if channel is None:
            raise NexconnError(CHANNEL_NOT_FOUND, "the group channel does not exist")
        profile = body.get("groupProfile") or {}
        permissions = body.get("permissions") or {}
        ext = body.get("groupExtProfile") or {}
        if not all(isinstance(x, dict) for x in (profile, permissions, ext)):
            raise NexconnError(INVALID_PARAMETER, "groupProfile, permissions and groupExtProfile are JSON objects")
        # Check everything before changing anything: a refused call applies nothing.
        _check_profile(profile)
        _check_permissions(permissions)
        _check_ext(ext)
        if len({**channel.ext, **ext}) > EXT_MAX_PAIRS:
            raise NexconnError(INVALID_PARAMETER, f"groupExtProfile: over {EXT_MAX_PAIRS} pairs")
        channel.profile.update(profile)
        channel.permissions.update(permissions)
        channel.ext.update(ext)
        return {"code": 0}


def _check_profile(profile: dict[str, Any]) -> None:
    for key, value in profile.items():
        if key not in _PROFILE_LIMITS or not isinstance(value, str):
            raise NexconnError(INVALID_PARAMETER, f"groupProfile.{key}: unknown key or not a string")
        if len(value) > _PROFILE_LIMITS[key]:
            raise NexconnError(VALUE_TOO_LONG, f"groupProfile.{key}: over {_PROFILE_LIMITS[key]} characters")


def _check_permissions(permissions: dict[str, Any]) -> None:
    for key, value in permissions.items():
        highest = _PERMISSION_MAX.get(key)
        if highest is None or type(value) is not int or not 0 <= value <= highest:
            raise NexconnError(INVALID_PARAMETER, f"permissions.{key}: unknown key or out of range")


def _check_ext(ext: dict[str, Any]) -> None:
    for key, value in ext.items():
        if not key.startswith(EXT_PREFIX) or len(key) > EXT_KEY_MAX or not isinstance(value, str):
            raise NexconnError(INVALID_PARAMETER, f"groupExtProfile.{key}: keys are ext_*, up to {EXT_KEY_MAX}")
        if len(value) > EXT_VALUE_MAX:
            raise NexconnError(VALUE_TOO_LONG, f"groupExtProfile.{key}: over {EXT_VALUE_MAX} characters")
