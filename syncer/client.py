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
import time
from collections import Counter
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from syncer import jsoncodec
from syncer.errors import ConfigError, CredentialsError, Interrupted, VendorError, VendorUnreachable
from syncer.gate import CredentialsGate
from syncer.pacing import Pacer
from syncer.retry import RetryPolicy
from syncer.settings import Settings
from syncer.transport import NoAnswer, ProxyRefused, TlsUnverified, Transport

log = structlog.get_logger("syncer.client")
# Bumped if what an answer's digest covers changes: every recorded digest then stops matching.
_ANSWER_DIGEST = hashlib.sha256(b"syncer.answer.1\n")


def answer_digest(body: bytes) -> str:
    """The digest of an answer's body, byte for byte as the vendor sent it (decompressed): 128
    bits of SHA-256, which CPUs with SHA extensions take faster than BLAKE2b."""
    digest = _ANSWER_DIGEST.copy()
    digest.update(body)
    return digest.hexdigest()[:32]


@dataclass(slots=True)  # not frozen: one per call, and a frozen __init__ is dearer
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


def is_code(value: object) -> bool:
    """``value`` can be a vendor's answer code: a whole number that fits the records' integer
    column (a signed 32-bit one; every code either vendor documents is far smaller). Anything
    else is an answer that names no usable code, never a number to store or guess at."""
    return type(value) is int and -(2**31) <= value < 2**31  # bool is an int to isinstance


def code_class(
    code: int, *, transient: Container[int], fatal: Callable[[int], bool], resign: Container[int] = ()
) -> CodeClass:
    """What a vendor's answer code means, from the codes the vendor documents as each: 0 is
    success; anything not named is permanent for that call."""
    if code == 0:
        return CodeClass.OK
    if code in resign:
        return CodeClass.RESIGN
    if code in transient:
        return CodeClass.TRANSIENT
    return CodeClass.FATAL if fatal(code) else CodeClass.PERMANENT


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
    """Every call of one vendor: its :class:`Wire`, one HTTP session (:mod:`syncer.transport`), the
    limits (:class:`syncer.pacing.Pacer`), the retries (:class:`syncer.retry.RetryPolicy`) and the
    credentials gate (:class:`syncer.gate.CredentialsGate`)."""

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
        # Told of every attempt: its command, its result label and its latency in seconds.
        self._on_answer = on_answer
        self.limits = {c: settings.limit_for(c, wire.default_rate_limit) for c in wire.commands}
        if min(self.limits.values()) < 1:
            raise ConfigError(
                f"a rate limit of {min(settings.vendor_limit_for(c, wire.default_rate_limit) for c in wire.commands)} "
                f"calls/s cannot be shared among {settings.shard.count} shards: use fewer shards or a higher limit"
            )
        self._pacer = Pacer(
            self.limits,
            1.0 + settings.limiter_margin_s,
            per_group=wire.per_group_commands,
            per_group_limit=settings.attr_writes_per_group,
            max_in_flight=settings.max_in_flight,
        )
        self._retry = RetryPolicy(
            settings.max_attempts,
            settings.backoff_base_s,
            settings.backoff_cap_s,
            settings.retry_budget_floor,
            settings.retry_budget_ratio,
            rng or random.SystemRandom(),
        )
        self._gate = CredentialsGate()
        self._http: Transport | None = None
        self.calls: Counter[str] = Counter()  # HTTP requests sent, by command
        self.last_answer_date: str | None = None  # the last answer's Date header (`syncer check`'s clock)
        self.throttled = 0
        # Retries taken, by what the failed attempt got: a vendor code, "http_502", "no_answer".
        self.retry_causes: Counter[str] = Counter()
        # Set when the run is asked to stop: calls not yet sent are not sent.
        self.stopping = asyncio.Event()

    @property
    def retries(self) -> int:
        return self._retry.retries

    @property
    def held(self) -> dict[str, int]:
        return self._pacer.held

    @property
    def peak_sends_per_second(self) -> Counter[str]:
        return self._pacer.peak_sends_per_second

    async def __aenter__(self) -> VendorClient:
        settings = self._settings
        http = Transport(settings.network, limit=settings.max_in_flight * 2, timeout_s=settings.request_timeout_s)
        self._http = await http.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def call(self, command: str, body: dict[str, Any], *, group_id: str | None = None) -> dict[str, Any]:
        """Send one command until it succeeds, fails for good, or runs out of attempts.

        ``group_id`` names the group a call targets, for a per-group limit. Writes are absolute
        values (never increments), so re-sending one after an unknown outcome is always safe.
        """
        answer = await self._gate.through(
            lambda: self._call(command, body, group_id, _NO_DIGEST), lambda exc: self._unusable(command, exc)
        )
        assert answer.decoded is not None
        return answer.decoded

    async def read(self, command: str, body: dict[str, Any], *, same_as: str | None) -> ReadAnswer:
        """As :meth:`call`, for a read whose answer's digest the caller records. When the body
        is byte for byte the one whose digest is ``same_as`` (an earlier successful answer), it
        is not decoded: the caller knows what it says."""
        return await self._gate.through(
            lambda: self._call(command, body, None, same_as), lambda exc: self._unusable(command, exc)
        )

    def _unusable(self, command: str, failure: VendorError) -> CredentialsError | None:
        """Before any call has succeeded, every attempt of this one failed alike: the next calls
        would too. One message, not one failure per group."""
        if not isinstance(failure, CallFailed) or failure.code is not None:
            return None
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
        attempts = self._retry.attempts(proven=self._gate.proven)
        for attempt in range(1, attempts + 1):
            try:
                return await self._send_once(command, body, group_id, same_as, fallback=fallback)
            except CallFailed as failure:
                last = failure
                # No answer, or one no vendor sends: a vendor with a backup host tries it next.
                fallback = failure.code is None
                kind = self._classify(command, failure, attempt)
                if kind is CodeClass.RESIGN and not resigned:
                    resigned = True
                    self._wire.resign()
                    continue
                if kind is CodeClass.OK:  # a wrong host whose backup is next
                    continue
                if kind is not CodeClass.TRANSIENT or attempt == attempts or not self._retry.take_retry():
                    raise
                self.retry_causes[failure.label] += 1
                delay = self._retry.backoff(attempt)
                log.debug("call_retry", command=command, code=failure.code, attempt=attempt, delay_s=round(delay, 3))
                await asyncio.sleep(delay)
        assert last is not None
        raise last

    def _classify(self, command: str, failure: CallFailed, attempt: int) -> CodeClass:
        """What a failed attempt means; raises :class:`CredentialsError` for what stops the run.
        OK here: an answer from a wrong host, whose backup the next attempt tries."""
        code = failure.code
        if failure.wrong_host:
            if not self._wire.has_fallback or attempt > 1:
                raise CredentialsError(
                    f"{command}: the vendor answered {failure}; check {self._wire.base_url_setting}",
                    code=None,
                    command=command,
                ) from failure
            return CodeClass.OK
        kind = CodeClass.TRANSIENT if code is None else self._wire.classify(code)
        if kind is CodeClass.FATAL:
            assert code is not None
            raise CredentialsError(
                f"{command}: the vendor refused the credentials (code {code}: {failure}); "
                f"check {self._wire.setting_to_check(code)}",
                code=code,
                command=command,
            ) from failure
        return kind

    async def _send_once(
        self, command: str, body: dict[str, Any], group_id: str | None, same_as: object, *, fallback: bool
    ) -> ReadAnswer:
        if self._http is None:
            raise RuntimeError("VendorClient used outside 'async with'")
        pacer = self._pacer
        async with pacer.in_flight[command]:
            if self.stopping.is_set():
                raise Interrupted(command)
            slots = await pacer.slots(command, group_id)
            if self.stopping.is_set():
                pacer.settle(slots)  # unused, but counted: harmless
                raise Interrupted(command)
            self.calls[command] += 1
            url, params, headers = self._wire.request(command, fallback=fallback)
            started = time.monotonic()
            try:
                answer = await self._http.post(
                    url,
                    jsoncodec.dumps(body),
                    params=params,
                    headers=headers or None,
                    on_sent=lambda: pacer.sent(command, slots),
                )
                pacer.answered(slots)
                self.last_answer_date = answer.date
            except TlsUnverified as exc:
                self._answered(command, "tls_unverified", started)
                raise CredentialsError(
                    f"{command}: the vendor's TLS certificate does not verify ({exc}); "
                    f"check {self._wire.base_url_setting} and the trusted CA certificates (SSL_CERT_FILE)",
                    command=command,
                ) from None
            except ProxyRefused as exc:
                self._answered(command, f"proxy_{exc.status}", started)
                if exc.status < 500:
                    raise CredentialsError(
                        f"{command}: {exc}; check HTTPS_PROXY or HTTP_PROXY (its credentials) and NO_PROXY",
                        command=command,
                    ) from None
                # The tunnel was refused: the request itself never left.
                label = f"proxy_{exc.status}"
                raise CallFailed(f"no answer ({exc})", code=None, command=command, label=label) from None
            except NoAnswer as exc:
                self._answered(command, "no_answer", started)
                raise CallFailed(
                    f"no answer ({self._wire.scrub(str(exc))})",
                    code=None,
                    command=command,
                    outcome_unknown=True,
                ) from None
            finally:
                pacer.settle(slots)  # not sent, or not known to be: counted as sent now
        return self._decoded(command, answer.status, answer.body, same_as, started)

    def _decoded(self, command: str, status: int, body: bytes, same_as: object, started: float) -> ReadAnswer:
        digest = ""
        if same_as is not _NO_DIGEST:
            digest = answer_digest(body)
            if digest == same_as and status == 200:
                self._answered(command, "0", started)
                return ReadAnswer(digest, None)
        try:
            decoded = self._wire.decode(command, status, body)
        except CallFailed as failure:
            if failure.throttled:
                self.throttled += 1
            self._answered(command, failure.label, started)
            raise
        self._answered(command, "0", started)
        return ReadAnswer(digest, decoded)

    def _answered(self, command: str, result: str, started: float) -> None:
        if self._on_answer is not None:
            self._on_answer(command, result, time.monotonic() - started)
