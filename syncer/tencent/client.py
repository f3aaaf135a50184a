"""Tencent's side of the shared client: URLs, UserSig signing, and what its answers mean."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import Any

from syncer.client import CallFailed, VendorClient, http_failure, is_code, json_answer
from syncer.quoting import quote
from syncer.settings import Settings
from syncer.tencent.api import ATTR_WRITE_COMMANDS, COMMAND_PATHS, THROTTLE_CODES, classify, setting_to_check
from syncer.tencent.settings import TencentSettings
from syncer.tencent.usersig import gen_usersig

_USERSIG_IN_TEXT = re.compile(r"(usersig=)[^&\s'\"]+", re.IGNORECASE)
DEFAULT_RATE_LIMIT = 200  # calls per second, per API command (tencent-facts.md)


class UserSigCache:
    """One UserSig for the admin account, renewed well before it expires."""

    def __init__(self, settings: TencentSettings, now: Callable[[], float] = time.time) -> None:
        self._sdkappid, self._secret_key = settings.credentials()
        self._identifier = settings.admin
        self._ttl = settings.usersig_ttl_s
        self._renew_before = min(settings.usersig_renew_before_s, self._ttl // 2)
        self._now = now
        self._sig: str | None = None
        self._expires_at = 0.0

    def get(self) -> str:
        now = self._now()
        if self._sig is None or now >= self._expires_at - self._renew_before:
            issued = int(now)
            self._sig = gen_usersig(self._secret_key, self._sdkappid, self._identifier, self._ttl, issued)
            self._expires_at = issued + self._ttl
        return self._sig

    def invalidate(self) -> None:
        self._sig = None


class TencentWire:
    """Tencent Cloud Chat's REST API: POST to a command path, signed in the query string."""

    name = "tencent"
    commands = tuple(COMMAND_PATHS)
    default_rate_limit = DEFAULT_RATE_LIMIT
    per_group_commands = ATTR_WRITE_COMMANDS  # 5 attribute writes per group per second
    base_url_setting = "TENCENT_IM_BASE_URL"
    has_fallback = False

    def __init__(
        self, settings: Settings, *, rng: random.Random | None = None, wall_clock: Callable[[], float] = time.time
    ) -> None:
        own = settings.tencent
        self._settings = settings
        self._sdkappid, _ = own.credentials()  # refused here, before any call, if missing
        # The per-call random only tells calls apart (the UserSig authenticates): a plain PRNG,
        # seeded from the OS, rather than a system call per call.
        self._rng = rng or random.Random()
        self._usersig = UserSigCache(own, now=wall_clock)

    def request(self, command: str, *, fallback: bool) -> tuple[str, dict[str, str], dict[str, str]]:
        params = {
            "sdkappid": str(self._sdkappid),
            "identifier": self._settings.tencent.admin,
            "usersig": self._usersig.get(),
            "random": str(self._rng.getrandbits(32)),  # new per call, as the vendor asks
            "contenttype": "json",
        }
        return f"{self._settings.tencent.base_url}/{COMMAND_PATHS[command]}", params, {}

    def decode(self, command: str, status: int, raw: bytes) -> dict[str, Any]:
        """A call succeeded only when the answer says so positively: ``ActionStatus`` "OK" and
        ``ErrorCode`` 0. Anything else that names no error code (``{}``, "FAIL" alone, a code
        that is not a number) is a failure whose outcome is unknown: a write may have applied."""
        # The vendor answers HTTP 200 with ErrorCode for every error of its own.
        if status != 200:
            raise http_failure(command, status)
        answer = json_answer(command, raw)
        code = answer.get("ErrorCode")
        if not is_code(code):
            raise CallFailed(
                f"answer has no usable ErrorCode ({quote(code)})",
                code=None,
                command=command,
                outcome_unknown=True,
                label="bad_answer",
            )
        if code != 0:
            info = quote(answer.get("ErrorInfo", ""), limit=300)
            raise CallFailed(f"code {code}: {info}", code=code, command=command, throttled=code in THROTTLE_CODES)
        if answer.get("ActionStatus") != "OK":
            raise CallFailed(
                f"answer does not confirm success (ErrorCode 0, ActionStatus {quote(answer.get('ActionStatus'))})",
                code=None,
                command=command,
                outcome_unknown=True,
                label="bad_answer",
            )
        return answer

    classify = staticmethod(classify)
    setting_to_check = staticmethod(setting_to_check)

    def resign(self) -> None:
        self._usersig.invalidate()

    def scrub(self, text: str) -> str:
        return _USERSIG_IN_TEXT.sub(r"\1***", text)


class TencentClient(VendorClient):
    """The shared client speaking Tencent's wire."""

    def __init__(
        self,
        settings: Settings,
        *,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
        on_answer: Callable[[str, str, float], None] | None = None,
    ) -> None:
        super().__init__(settings, TencentWire(settings, rng=rng, wall_clock=wall_clock), rng=rng, on_answer=on_answer)
