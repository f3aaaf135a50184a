"""The HTTP client every vendor shares: per-command limits, bounded concurrency, retries, the
credentials gate, graceful stop. What differs per vendor (URLs, signing, decoding answers,
what each code means) comes from a :class:`Wire`.

Every call goes through :meth:`VendorClient.call`, which answers with the decoded body of a
successful call or raises from the small error tree in :mod:`syncer.errors`.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import random
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from syncer import jsoncodec
from syncer.errors import ConfigError, CredentialsError, Interrupted, VendorError, VendorUnreachable
from syncer.http import HttpClient, NoAnswer
from syncer.limiter import KeyedLimiter, SlidingWindowLimiter, Slot
from syncer.settings import Settings

log = structlog.get_logger("syncer.client")
_JSON_BODY = {"Content-Type": "application/json"}
# Calls held by a limiter leave in groups at most this often (see SlidingWindowLimiter): at 200
# calls/s, about 5 at a time. Measured on a no-op run at 200 reads/s: a third less CPU.
_COALESCE_S = 0.025
# Bumped if what an answer's digest covers changes: every recorded digest then stops matching.
_ANSWER_DIGEST = hashlib.sha256(b"syncer.answer.1\n")


def answer_digest(body: bytes) -> str:
    """The digest of an answer's body, byte for byte as the vendor sent it (decompressed): 128
    bits of SHA-256, which CPUs with SHA extensions take in half the time of BLAKE2b (about
    15 µs for a 20 KB batch answer)."""
    digest = _ANSWER_DIGEST.copy()
    digest.update(body)
    return digest.hexdigest()[:32]


@dataclass(slots=True)  # not frozen: one per call, and a frozen __init__ costs twice as much
class ReadAnswer:
    """A successful read's answer with its digest (:func:`answer_digest`). ``decoded`` is None
    when the body was the very one the caller named as expected: it is not decoded again."""

    digest: str
    decoded: dict[str, Any] | None


class CodeClass(enum.Enum):
    OK = "ok"
    TRANSIENT = "transient"  # retry with backoff
    RESIGN = "resign"  # sign again, retry once
    FATAL = "fatal"  # stop the run: the settings are wrong for every group
    PERMANENT = "permanent"  # this call will never succeed as sent: record it


class CallFailed(VendorError):
    """A call failed. ``outcome_unknown``: the request may have reached the vendor.
    ``throttled``: the vendor said "too fast". ``code`` None: no answer from the vendor."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None,
        command: str,
        outcome_unknown: bool = False,
        throttled: bool = False,
        wrong_host: bool = False,
        label: str | None = None,
    ) -> None:
        super().__init__(message, code=code, command=command)
        self.outcome_unknown = outcome_unknown
        self.throttled = throttled
        # An HTTP status no vendor answer comes with (404, 403 from a proxy…): a wrong host or path.
        self.wrong_host = wrong_host
        # The result label metrics count it under: the vendor's code, "http_502", "no_answer".
        self.label = label or (str(code) if code is not None else "no_answer")


class Wire(Protocol):
    """What one vendor's HTTP API looks like to the shared client."""

    name: str
    commands: tuple[str, ...]
    default_rate_limit: int  # calls per second per command, as the vendor documents
    per_group_commands: frozenset[str]  # commands that also have a per-group limit
    base_url_setting: str  # the setting to check when the vendor's host answers nonsense
    has_fallback: bool  # a backup host to try when the primary gives no answer

    def request(self, command: str, *, fallback: bool) -> tuple[str, dict[str, str], dict[str, str]]:
        """URL, query parameters and headers for one attempt; ``fallback``: the last attempt
        got no answer or an unexpected HTTP status (a vendor with a backup host uses it)."""
        ...

    def decode(self, command: str, status: int, raw: bytes) -> dict[str, Any]:
        """The answer of a successful call, or :class:`CallFailed`."""
        ...

    def classify(self, code: int) -> CodeClass: ...

    def setting_to_check(self, code: int) -> str: ...

    def resign(self) -> None:
        """Forget the current signature: the next request signs afresh."""
        ...

    def scrub(self, text: str) -> str:
        """``text`` without anything secret (a signature in a URL, say)."""
        ...


# `same_as` of a call whose answer is not digested (writes, mostly): no digest can equal it.
_NO_DIGEST = object()


def http_failure(command: str, status: int) -> CallFailed:
    """An HTTP status without a vendor answer. 5xx are the network's or a proxy's trouble and
    are retried as network faults; others mean a wrong host or path."""
    transient = status >= 500 or status == 429
    return CallFailed(
        f"HTTP {status}",
        code=None,
        command=command,
        outcome_unknown=transient,
        wrong_host=not transient,
        label=f"http_{status}",
    )


def json_answer(command: str, raw: bytes) -> dict[str, Any]:
    try:
        answer = jsoncodec.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise CallFailed(
            "answer is not a JSON object", code=None, command=command, outcome_unknown=True, label="bad_answer"
        )
    return answer


class VendorClient:
    """One HTTP client (:mod:`syncer.http`), one limiter per command, one per group where the vendor has one."""

    def __init__(
        self,
        settings: Settings,
        wire: Wire,
        *,
        rng: random.Random | None = None,
        on_answer: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self._settings = settings
        self._wire = wire
        self.commands = wire.commands
        self._rng = rng or random.SystemRandom()
        # Told of every attempt: its command, its result label and its latency in seconds.
        self._on_answer = on_answer
        self.limits = {c: settings.limit_for(c, wire.default_rate_limit) for c in wire.commands}
        if min(self.limits.values()) < 1:
            raise ConfigError(
                f"a rate limit of {min(settings.vendor_limit_for(c, wire.default_rate_limit) for c in wire.commands)} "
                f"calls/s cannot be shared among {settings.shard.count} shards: use fewer shards or a higher limit"
            )
        window = 1.0 + settings.limiter_margin_s
        self._limiters = {
            c: SlidingWindowLimiter(n, window, burst_divisor=10, coalesce_s=_COALESCE_S) for c, n in self.limits.items()
        }
        self._group_limiter = KeyedLimiter(settings.attr_writes_per_group, window)
        # Bounded per command, so that callers queued on one saturated command cannot take
        # every connection from the others.
        self._in_flight = {c: asyncio.Semaphore(settings.max_in_flight) for c in wire.commands}
        self._http: HttpClient | None = None
        # Until one call has been answered without a credentials error, calls go one at a time:
        # wrong settings then cost one call, not one per batch in flight.
        self._credentials_ok = False
        self._gate = asyncio.Lock()
        self._refused: CredentialsError | None = None  # once refused, no further call is sent
        self.calls: Counter[str] = Counter()  # HTTP requests sent, by command
        self.throttled = 0
        self.retries = 0
        # The busiest sliding second of real send times, per command: what the vendor sees,
        # less the network's jitter. Reported with every run.
        self._recent_sends: dict[str, deque[float]] = {c: deque() for c in wire.commands}
        self.peak_sends_per_second: Counter[str] = Counter()
        self.first_attempts = 0
        self._budget_spent_logged = False
        # The fastest round trip seen: an answer that took longer than that may have arrived
        # late by the difference, and its limiter slots move by as much.
        self._fastest_round_trip: float | None = None
        # Set when the run is asked to stop: calls not yet sent are not sent.
        self.stopping = asyncio.Event()

    async def __aenter__(self) -> VendorClient:
        self._http = HttpClient(limit=self._settings.max_in_flight * 2, timeout_s=self._settings.request_timeout_s)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

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

        ``group_id`` names the group a call targets, for a per-group limit. Writes are absolute
        values (never increments), so re-sending one after an unknown outcome is always safe.
        """
        answer = await self._gated(command, body, group_id, _NO_DIGEST)
        assert answer.decoded is not None
        return answer.decoded

    async def read(self, command: str, body: dict[str, Any], *, same_as: str | None) -> ReadAnswer:
        """As :meth:`call`, for a read whose answer's digest the caller records. When the body
        is byte for byte the one whose digest is ``same_as`` (an earlier successful answer), it
        is not decoded: the caller knows what it says."""
        return await self._gated(command, body, None, same_as)

    async def _gated(self, command: str, body: dict[str, Any], group_id: str | None, same_as: object) -> ReadAnswer:
        if self._credentials_ok:
            return await self._call(command, body, group_id, same_as)
        async with self._gate:
            if self._refused is not None:
                raise self._refused
            if not self._credentials_ok:
                try:
                    answer = await self._call(command, body, group_id, same_as)
                except CredentialsError as exc:
                    self._refused = exc
                    raise
                except CallFailed as exc:
                    if exc.code is None:
                        # Before any call has succeeded, every attempt of this one failed alike:
                        # the next calls would too. One message, not one failure per group.
                        self._refused = self._unusable(command, exc)
                        raise self._refused from exc
                    self._credentials_ok = True  # an answer not about credentials proves them
                    raise
                self._credentials_ok = True
                return answer
        return await self._call(command, body, group_id, same_as)

    def _unusable(self, command: str, failure: CallFailed) -> CredentialsError:
        setting = self._wire.base_url_setting
        if failure.label == "bad_answer":
            return CredentialsError(
                f"{command}: the host answers nothing the vendor sends ({failure}); check {setting}",
                command=command,
            )
        return VendorUnreachable(
            f"{command}: the vendor could not be reached before any call succeeded ({failure}); "
            f"check {setting} and the network (a retry later may succeed)",
            command=command,
        )

    async def _call(self, command: str, body: dict[str, Any], group_id: str | None, same_as: object) -> ReadAnswer:
        resigned = False
        fallback = False
        last: CallFailed | None = None
        self.first_attempts += 1
        # Until a call has succeeded, a host that does not answer is more likely wrong than busy.
        attempts = self._settings.max_attempts if self._credentials_ok else min(3, self._settings.max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                return await self._send_once(command, body, group_id, same_as, fallback=fallback)
            except CallFailed as failure:
                last = failure
                code = failure.code
                # No answer, or one no vendor sends: a vendor with a backup host tries it next.
                fallback = code is None
                if failure.wrong_host:
                    if not self._wire.has_fallback or attempt > 1:
                        raise CredentialsError(
                            f"{command}: the vendor answered {failure}; check {self._wire.base_url_setting}",
                            code=None,
                            command=command,
                        ) from failure
                    continue
                kind = CodeClass.TRANSIENT if code is None else self._wire.classify(code)
                if kind is CodeClass.RESIGN and not resigned:
                    resigned = True
                    self._wire.resign()
                    continue
                if kind is CodeClass.FATAL:
                    assert code is not None
                    raise CredentialsError(
                        f"{command}: the vendor refused the credentials (code {code}: {failure}); "
                        f"check {self._wire.setting_to_check(code)}",
                        code=code,
                        command=command,
                    ) from failure
                if kind is not CodeClass.TRANSIENT or attempt == attempts:
                    raise
                if not self._retry_allowed():
                    raise
                self.retries += 1
                delay = self._backoff(attempt)
                log.debug("call_retry", command=command, code=code, attempt=attempt, delay_s=round(delay, 3))
                await asyncio.sleep(delay)
        assert last is not None
        raise last

    def _on_sent(self, command: str, slots: list[Slot]) -> None:
        # The request is on the wire now: this, not the moment the limiter let it go (a new
        # connection may have taken a handshake since), is when its window starts.
        now = asyncio.get_running_loop().time()
        for slot in slots:
            slot.mark_sent(now)
        recent = self._recent_sends[command]
        recent.append(now)
        while now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) > self.peak_sends_per_second[command]:
            self.peak_sends_per_second[command] = len(recent)

    async def _send_once(
        self, command: str, body: dict[str, Any], group_id: str | None, same_as: object, *, fallback: bool
    ) -> ReadAnswer:
        if self._http is None:
            raise RuntimeError("VendorClient used outside 'async with'")
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
            url, params, headers = self._wire.request(command, fallback=fallback)
            started = time.monotonic()
            try:
                answer = await self._http.post(
                    url,
                    jsoncodec.dumps(body),
                    params=params,
                    headers=headers | _JSON_BODY,
                    on_sent=lambda: self._on_sent(command, slots),
                )
                self._answer_came(slots)
            except ssl.SSLCertVerificationError as exc:
                self._answered(command, "tls_unverified", started)
                raise CredentialsError(
                    f"{command}: the vendor's TLS certificate does not verify ({exc.verify_message}); "
                    f"check {self._wire.base_url_setting} and the trusted CA certificates",
                    command=command,
                ) from None
            except (TimeoutError, OSError, NoAnswer) as exc:
                self._answered(command, "no_answer", started)
                raise CallFailed(
                    f"no answer ({type(exc).__name__}: {self._wire.scrub(str(exc)) or 'timed out'})",
                    code=None,
                    command=command,
                    outcome_unknown=True,
                ) from None
            finally:
                # Not sent, or not known to be: count it as sent now, the latest it could have.
                now = asyncio.get_running_loop().time()
                for slot in slots:
                    slot.mark_sent(now)
        digest = ""
        if same_as is not _NO_DIGEST:
            digest = answer_digest(answer.body)
            if digest == same_as and answer.status == 200:
                self._answered(command, "0", started)
                return ReadAnswer(digest, None)
        try:
            decoded = self._wire.decode(command, answer.status, answer.body)
        except CallFailed as failure:
            if failure.throttled:
                self.throttled += 1
            self._answered(command, failure.label, started)
            raise
        self._answered(command, "0", started)
        return ReadAnswer(digest, decoded)

    def _answer_came(self, slots: list[Slot]) -> None:
        """The vendor stamped this call between its send and now, less the fastest round trip
        (the least the way there and back can take): move its slots to the latest it could be."""
        now = asyncio.get_running_loop().time()
        sent = slots[0].sent_at if slots else None
        if sent is None:
            return
        round_trip = now - sent
        if self._fastest_round_trip is None or round_trip < self._fastest_round_trip:
            self._fastest_round_trip = round_trip
        for slot in slots:
            slot.arrived_by(now - self._fastest_round_trip)

    def _answered(self, command: str, result: str, started: float) -> None:
        if self._on_answer is not None:
            self._on_answer(command, result, time.monotonic() - started)

    async def _acquire_slots(self, command: str, group_id: str | None) -> list[Slot]:
        limiter = self._limiters[command]
        if group_id is None or command not in self._wire.per_group_commands:
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
