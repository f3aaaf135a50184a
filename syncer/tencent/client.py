"""The Tencent REST client: signing, per-command limits, bounded concurrency, retries.

Every call goes through :meth:`TencentClient.call`, which answers with the decoded body of a
successful call or raises from the small error tree in :mod:`syncer.errors`.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import structlog

from syncer.errors import CredentialsError, Interrupted, VendorError
from syncer.limiter import KeyedLimiter, SlidingWindowLimiter, Slot
from syncer.settings import Settings
from syncer.tencent.api import (
    ATTR_WRITE_COMMANDS,
    COMMAND_PATHS,
    THROTTLE_CODES,
    CodeClass,
    classify,
    setting_to_check,
)
from syncer.usersig import gen_usersig

log = structlog.get_logger("syncer.client")

_USERSIG_IN_TEXT = re.compile(r"(usersig=)[^&\s'\"]+", re.IGNORECASE)
NETWORK_ERROR = -1  # our own code for "no answer": connection refused, dropped, timed out
HTTP_ERROR_BASE = 1000  # an HTTP status s without a vendor body is recorded as code -s


class CallFailed(VendorError):
    """A call failed for good. ``outcome_unknown``: the request may have reached the vendor."""

    def __init__(self, message: str, *, code: int | None, command: str, outcome_unknown: bool = False) -> None:
        super().__init__(message, code=code, command=command)
        self.outcome_unknown = outcome_unknown


def _result_label(status: int, failure: CallFailed) -> str:
    if status != 200:
        return f"http_{status}"
    return str(failure.code) if failure.code is not None else "bad_answer"


class UserSigCache:
    """One UserSig for the admin account, renewed well before it expires."""

    def __init__(
        self,
        secret_key: str,
        sdkappid: int,
        identifier: str,
        *,
        ttl_s: int,
        renew_before_s: int,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._secret_key = secret_key
        self._sdkappid = sdkappid
        self._identifier = identifier
        self._ttl = ttl_s
        self._renew_before = min(renew_before_s, ttl_s // 2)
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


def _scrub(text: str) -> str:
    return _USERSIG_IN_TEXT.sub(r"\1***", text)


class TencentClient:
    """One aiohttp session, one limiter per command, one per group for attribute writes."""

    def __init__(
        self,
        settings: Settings,
        *,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
        on_answer: Callable[[str, str, float], None] | None = None,
    ) -> None:
        sdkappid, secret_key = settings.require_vendor()
        self._settings = settings
        self.commands = tuple(COMMAND_PATHS)
        # Told of every attempt: its command, its result ("0", a vendor code, "http_502",
        # "no_answer") and its latency in seconds. Metrics listen here.
        self._on_answer = on_answer
        self._sdkappid = sdkappid
        self._usersig = UserSigCache(
            secret_key,
            sdkappid,
            settings.admin,
            ttl_s=settings.usersig_ttl_s,
            renew_before_s=settings.usersig_renew_before_s,
            now=wall_clock,
        )
        self._rng = rng or random.SystemRandom()
        window = 1.0 + settings.limiter_margin_s
        self._limiters = {
            c: SlidingWindowLimiter(settings.limit_for(c), window, burst_divisor=10) for c in COMMAND_PATHS
        }
        self._group_limiter = KeyedLimiter(settings.attr_writes_per_group, window)
        # Bounded per command, so that callers queued on one saturated command cannot take
        # every connection from the others.
        self._in_flight = {c: asyncio.Semaphore(settings.max_in_flight) for c in COMMAND_PATHS}
        self._session: aiohttp.ClientSession | None = None
        # Until one call has been answered without a credentials error, calls go one at a time:
        # wrong settings then cost one call, not one per batch in flight.
        self._credentials_ok = False
        self._gate = asyncio.Lock()
        self._refused: CredentialsError | None = None  # once refused, no further call is sent
        self.calls: Counter[str] = Counter()  # HTTP requests sent, by command
        self.results: Counter[tuple[str, int]] = Counter()  # (command, code) of every answer
        self.throttled = 0
        self.retries = 0
        # The busiest sliding second of real send times, per command: what the vendor sees,
        # less the network's jitter. Reported with every run.
        self._recent_sends: dict[str, deque[float]] = {c: deque() for c in COMMAND_PATHS}
        self.peak_sends_per_second: Counter[str] = Counter()
        self.first_attempts = 0
        self._budget_spent_logged = False
        # Set when the run is asked to stop: calls not yet sent are not sent.
        self.stopping = asyncio.Event()

    async def __aenter__(self) -> TencentClient:
        connector = aiohttp.TCPConnector(
            limit=self._settings.max_in_flight * 2, keepalive_timeout=30, enable_cleanup_closed=True
        )
        sent = aiohttp.TraceConfig()
        sent.on_request_headers_sent.append(self._on_headers_sent)
        self._session = aiohttp.ClientSession(
            connector=connector,
            trace_configs=[sent],
            timeout=aiohttp.ClientTimeout(total=self._settings.request_timeout_s),
            json_serialize=lambda obj: json.dumps(obj, ensure_ascii=False),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, command: str) -> str:
        return f"{self._settings.base_url}/{COMMAND_PATHS[command]}"

    def _params(self) -> dict[str, str]:
        return {
            "sdkappid": str(self._sdkappid),
            "identifier": self._settings.admin,
            "usersig": self._usersig.get(),
            "random": str(self._rng.getrandbits(32)),  # new per call, as the vendor asks
            "contenttype": "json",
        }

    def _retry_allowed(self) -> bool:
        budget = self._settings.retry_budget_floor + self._settings.retry_budget_ratio * self.first_attempts
        if self.retries < budget:
            return True
        if not self._budget_spent_logged:
            self._budget_spent_logged = True
            log.warning("retry_budget_spent", retries=self.retries, calls=self.first_attempts)
        return False

    def _backoff(self, attempt: int) -> float:
        # Capped exponential backoff with full jitter.
        ceiling = min(self._settings.backoff_cap_s, self._settings.backoff_base_s * (2 ** (attempt - 1)))
        return self._rng.uniform(0, ceiling)

    async def call(self, command: str, body: dict[str, Any], *, group_id: str | None = None) -> dict[str, Any]:
        """Send one command until it succeeds, fails for good, or runs out of attempts.

        ``group_id`` names the group an attribute write targets, for its per-group limit.
        Writes are absolute values (never increments), so re-sending one after an unknown
        outcome is always safe.
        """
        if self._credentials_ok:
            return await self._call(command, body, group_id)
        async with self._gate:
            if self._refused is not None:
                raise self._refused
            if not self._credentials_ok:
                try:
                    answer = await self._call(command, body, group_id)
                except CredentialsError as exc:
                    self._refused = exc
                    raise
                except VendorError as exc:
                    # An answer that is not about credentials proves them; no answer proves nothing.
                    self._credentials_ok = exc.code is not None
                    raise
                self._credentials_ok = True
                return answer
        return await self._call(command, body, group_id)

    async def _call(self, command: str, body: dict[str, Any], group_id: str | None) -> dict[str, Any]:
        resigned = False
        last: CallFailed | None = None
        self.first_attempts += 1
        for attempt in range(1, self._settings.max_attempts + 1):
            try:
                return await self._send_once(command, body, group_id)
            except CallFailed as failure:
                last = failure
                code = failure.code if failure.code is not None else NETWORK_ERROR
                kind = classify(code) if code > 0 else CodeClass.TRANSIENT
                if kind is CodeClass.RESIGN and not resigned:
                    resigned = True
                    self._usersig.invalidate()
                    continue
                if HTTP_ERROR_BASE <= code < 2 * HTTP_ERROR_BASE:
                    raise CredentialsError(
                        f"{command}: the vendor answered {failure}; check TENCENT_IM_BASE_URL",
                        code=code,
                        command=command,
                    ) from failure
                if kind is CodeClass.FATAL:
                    raise CredentialsError(
                        f"{command}: the vendor refused the credentials (code {code}: {failure}); "
                        f"check {setting_to_check(code)}",
                        code=code,
                        command=command,
                    ) from failure
                if kind is not CodeClass.TRANSIENT or attempt == self._settings.max_attempts:
                    raise
                if not self._retry_allowed():
                    raise
                self.retries += 1
                delay = self._backoff(attempt)
                log.debug("call_retry", command=command, code=code, attempt=attempt, delay_s=round(delay, 3))
                await asyncio.sleep(delay)
        assert last is not None
        raise last

    async def _on_headers_sent(self, session: object, ctx: SimpleNamespace, params: object) -> None:
        # The request is on the wire now: this, not the moment the limiter let it go (a new
        # connection may have taken a handshake since), is when its window starts.
        now = asyncio.get_running_loop().time()
        command, slots = ctx.trace_request_ctx
        for slot in slots:
            slot.mark_sent(now)
        recent = self._recent_sends[command]
        recent.append(now)
        while now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) > self.peak_sends_per_second[command]:
            self.peak_sends_per_second[command] = len(recent)

    async def _send_once(self, command: str, body: dict[str, Any], group_id: str | None) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("TencentClient used outside 'async with'")
        async with self._in_flight[command]:
            if self.stopping.is_set():
                raise Interrupted(command)
            slots = await self._acquire_slots(command, group_id)
            if self.stopping.is_set():
                now = asyncio.get_running_loop().time()
                for slot in slots:
                    slot.mark_sent(now)  # unused, but counted: harmless
                raise Interrupted(command)
            self.calls[command] += 1
            started = time.monotonic()
            try:
                async with self._session.post(
                    self._url(command), params=self._params(), json=body, trace_request_ctx=(command, slots)
                ) as resp:
                    status = resp.status
                    raw = await resp.read()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                self.results[(command, NETWORK_ERROR)] += 1
                self._answered(command, "no_answer", started)
                raise CallFailed(
                    f"no answer ({type(exc).__name__}: {_scrub(str(exc)) or 'timed out'})",
                    code=None,
                    command=command,
                    outcome_unknown=True,
                ) from None
            finally:
                # Not sent, or not known to be: count it as sent now, the latest it could have.
                now = asyncio.get_running_loop().time()
                for slot in slots:
                    slot.mark_sent(now)
        try:
            answer = self._decode(command, status, raw)
        except CallFailed as failure:
            self._answered(command, _result_label(status, failure), started)
            raise
        self._answered(command, "0", started)
        return answer

    def _answered(self, command: str, result: str, started: float) -> None:
        if self._on_answer is not None:
            self._on_answer(command, result, time.monotonic() - started)

    async def _acquire_slots(self, command: str, group_id: str | None) -> list[Slot]:
        limiter = self._limiters[command]
        if group_id is None or command not in ATTR_WRITE_COMMANDS:
            return [await limiter.reserve()]
        # Both windows must hold at the moment of sending: wait for the group, take a command
        # slot, and only send if the group is still free (else the slot goes unused: safe).
        while True:
            await self._group_limiter.wait_ready(group_id)
            slot = await limiter.reserve()
            group_slot = self._group_limiter.try_acquire(group_id, pending=True)
            if group_slot is not None:
                return [slot, group_slot]
            slot.mark_sent(asyncio.get_running_loop().time())

    def _decode(self, command: str, status: int, raw: bytes) -> dict[str, Any]:
        if status != 200:
            self.results[(command, -status)] += 1
            # 5xx and 429 are the network's or a proxy's trouble: retried as network faults.
            transient = status >= 500 or status == 429
            raise CallFailed(
                f"HTTP {status}",
                code=None if transient else HTTP_ERROR_BASE + status,
                command=command,
                outcome_unknown=transient,
            )
        try:
            answer = json.loads(raw)
            code = int(answer.get("ErrorCode", 0))
        except (ValueError, AttributeError, TypeError):
            self.results[(command, NETWORK_ERROR)] += 1
            raise CallFailed("answer is not JSON", code=None, command=command, outcome_unknown=True) from None
        self.results[(command, code)] += 1
        if code != 0:
            if code in THROTTLE_CODES:
                self.throttled += 1
            info = str(answer.get("ErrorInfo", ""))[:300]
            raise CallFailed(f"code {code}: {info}", code=code, command=command)
        if not isinstance(answer, dict):
            raise CallFailed("answer is not a JSON object", code=None, command=command, outcome_unknown=True)
        return answer
