"""Nexconn's side of the shared client: hosts (primary, backup), per-call signing, answers."""

from __future__ import annotations

import hashlib
import random
import string
import time
from collections.abc import Callable
from typing import Any

from syncer.client import CallFailed, http_failure, is_code, json_answer
from syncer.nexconn.api import COMMAND_PATHS, DEFAULT_RATE_LIMIT, THROTTLED, classify, setting_to_check
from syncer.settings import Settings

_NONCE_ALPHABET = string.ascii_letters + string.digits
NONCE_LENGTH = 16  # the vendor takes up to 18


def signature(secret: str, nonce: str, timestamp_ms: str) -> str:
    """Lower-case hex SHA-1 of secret + nonce + timestamp, plainly concatenated."""
    return hashlib.sha1(f"{secret}{nonce}{timestamp_ms}".encode()).hexdigest()


class NexconnWire:
    """Nexconn's Platform Chat API: POST JSON, signed in headers with a fresh nonce per call;
    a timeout or an unexpected HTTP status sends the next attempt to the backup host."""

    name = "nexconn"
    commands = tuple(COMMAND_PATHS)
    default_rate_limit = DEFAULT_RATE_LIMIT
    per_group_commands: frozenset[str] = frozenset()
    base_url_setting = "NEXCONN_BASE_URL"

    def __init__(
        self, settings: Settings, *, rng: random.Random | None = None, wall_clock: Callable[[], float] = time.time
    ) -> None:
        own = settings.nexconn
        self._app_key, self._secret = own.credentials()
        self._primary = own.base_url
        self._backup = own.backup_host
        self.has_fallback = self._backup is not None
        self._rng = rng or random.SystemRandom()
        self._clock = wall_clock

    def request(self, command: str, *, fallback: bool) -> tuple[str, dict[str, str], dict[str, str]]:
        host = self._backup if fallback and self._backup else self._primary
        nonce = "".join(self._rng.choice(_NONCE_ALPHABET) for _ in range(NONCE_LENGTH))
        timestamp = str(int(self._clock() * 1000))
        headers = {
            "App-Key": self._app_key,
            "Nonce": nonce,
            "Timestamp": timestamp,
            "Signature": signature(self._secret, nonce, timestamp),
        }
        return f"{host}/{COMMAND_PATHS[command]}", {}, headers

    def decode(self, command: str, status: int, raw: bytes) -> dict[str, Any]:
        # Errors come as {"code": N, "errorMessage": …}, with HTTP 200 or with a status of their
        # own (401 for signatures, 429 for throttling, 430 for a service not enabled).
        try:
            answer = json_answer(command, raw)
        except CallFailed:
            if status != 200:
                raise http_failure(command, status) from None
            raise
        code = answer.get("code")
        if not is_code(code):
            if status != 200:
                raise http_failure(command, status)
            raise CallFailed("answer has no code", code=None, command=command, outcome_unknown=True, label="bad_answer")
        if code != 0:
            message = str(answer.get("errorMessage", ""))[:300]
            raise CallFailed(f"code {code}: {message}", code=code, command=command, throttled=code == THROTTLED)
        return answer

    classify = staticmethod(classify)
    setting_to_check = staticmethod(setting_to_check)

    def resign(self) -> None:
        pass  # every call is signed afresh anyway

    def scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text
