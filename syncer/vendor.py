"""What a vendor supplies to the shared pipeline: one small, typed interface.

The pipeline (read desired → fetch live → diff → write → record), the records, the limiters, the
client machinery, the CLI and the metrics know nothing of any one vendor. A vendor package
(``syncer/<vendor>/``) brings its desired model and how a profile decodes into it, its
validation, its batch read, its live model, its diff into write calls, its limits and error codes
(through its :class:`syncer.client.Wire`), and its signing; the database's side of it is one
view (sql/desired/<vendor>.sql). CONTRIBUTING.md, "Adding a vendor", walks through it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar

from syncer import jsoncodec
from syncer.budget import WriteGate
from syncer.errors import Malformed, VendorError
from syncer.models import FieldChange, GroupPlan, GroupResult, Outcome
from syncer.ports import PageRow, ReadHints

if TYPE_CHECKING:
    from syncer.client import VendorClient
    from syncer.settings import Settings

# Bumped when what a group's answer means for its diff changes (a field newly managed, say):
# every digest recorded before then stops matching, and each group is looked at once more.
_LIVE_DIGEST = hashlib.blake2b(digest_size=16, person=b"syncer.live.1")

D = TypeVar("D")  # a vendor's desired model
L = TypeVar("L")  # a vendor's live model


@dataclass(frozen=True, slots=True)
class ReadError:
    """A group the batch read could not return; ``not_found``: the vendor says it does not exist."""

    code: int | None
    message: str
    not_found: bool = False
    cause: str = "bad_answer"  # what the summary counts it under: the call's result, or a malformed answer


@dataclass(slots=True)  # not frozen: one per group read, and a frozen __init__ is dearer
class LiveAnswer:
    """What a batch read answered for one group, as the vendor sent it, with its digest and
    the digest of the whole batch answer it came in.

    Most groups of a routine run are settled by a digest alone; a vendor decodes ``raw`` into
    its own live model only for the others.
    """

    raw: Mapping[str, Any]
    digest: str
    answer_digest: str | None  # None when the batch answer came in parts (split for its size)

    @classmethod
    def of(cls, raw: Mapping[str, Any], looked_at: Sequence[Any], answer_digest: str | None) -> LiveAnswer:
        """``looked_at``: the values of ``raw`` the vendor's diff reads, in a fixed order, which
        alone are digested, so that a field that moves on its own (a member count, a
        last-message time) does not make every group look changed."""
        hasher = _LIVE_DIGEST.copy()  # a copy is cheaper than a new personalised hash
        hasher.update(jsoncodec.canonical(looked_at))
        return cls(raw, hasher.hexdigest(), answer_digest)


@dataclass(slots=True)  # not frozen: one per batch, and a frozen __init__ is dearer
class LiveBatch:
    """What one batch read answered.

    ``groups``: per group ID, a :class:`LiveAnswer` or a :class:`ReadError`; None when the
    answer was byte for byte the one the read was told to expect (``same_as``): every group of
    the batch is then as it was when last seen in line, and nothing was decoded.
    ``digest``: the whole answer's (None when it came in parts, or failed).
    """

    digest: str | None
    groups: Mapping[str, LiveAnswer | ReadError] | None


class Target(NamedTuple, Generic[D]):
    """A group the run looks at in full: its ID, its page row, its decoded desired model, and
    the digest of the desired row it was decoded from."""

    group_id: str
    page: PageRow
    desired: D
    desired_digest: str


class Settled(NamedTuple):
    """A group's outcome and, where a diff was made, its plan."""

    result: GroupResult
    plan: GroupPlan | None = None


# What a vendor decides for a group: settled now, or the calls (reads it still needs, writes)
# that settle it, to be awaited. Each group is diffed once, wherever that happens.
Decision = Settled | Coroutine[Any, Any, Settled]


# The JSON kinds a profile's value may have, by the column type it stands for; JSON: a jsonb
# column, as its text (decoded apart, so that what does not decode is named by its column; what it
# holds, validation looks into).
TEXT, WHOLE_NUMBER, BOOLEAN, JSON = "text", "a whole number", "true or false", "JSON"


def decode_profile(profile: str, columns: Mapping[str, str]) -> list[Any]:
    """A desired row's ``profile`` (its view's JSON object of managed columns) as the values of
    ``columns``, in their order, each None or of its column's kind. :class:`Malformed`, naming
    the column, otherwise: a view over the relation may hand syncer any type, and none is
    guessed at."""
    try:
        fields = jsoncodec.loads(profile)
    except ValueError as exc:
        raise Malformed(f"the row's profile: {exc}") from None
    if not isinstance(fields, dict):
        raise Malformed("the row's profile is not a JSON object")
    get = fields.get
    found = []
    for column, kind in columns.items():
        value = get(column)
        if value is not None:
            expected = _TYPE_OF_KIND[kind]
            if expected is None:
                value = _json_column(column, value)
            elif type(value) is not expected:
                raise Malformed(f"{column}: must be {kind}, got {json_kind(value)}")
        found.append(value)
    return found


# The one Python type a JSON value of each kind decodes to (exactly: True is not a whole number);
# None: a jsonb column's text, decoded on its own.
_TYPE_OF_KIND: dict[str, type | None] = {TEXT: str, WHOLE_NUMBER: int, BOOLEAN: bool, JSON: None}


def _json_column(column: str, text: object) -> Any:
    """A jsonb column comes in the profile as its text, decoded here on its own."""
    if not isinstance(text, str):
        raise Malformed(f"{column}: must be jsonb, got {json_kind(text)}")
    try:
        return jsoncodec.loads(text)
    except ValueError as exc:
        raise Malformed(f"{column}: {exc}") from None


def json_kind(value: object) -> str:
    """What kind of JSON value ``value`` is, for a message that says what was expected instead."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a JSON array" if isinstance(value, list) else "a JSON object"


def settled_by_digest(page: PageRow, answer: LiveAnswer | ReadError, vendor: Vendor[Any, Any]) -> bool:
    """The desired row and the vendor's answer are both what they were when the group was last
    seen in line, and nothing else asks for a closer look: the group is in line, undecoded."""
    return isinstance(answer, LiveAnswer) and answer.digest == page.live_digest and vendor.settles_by_digest(page)


def without_writes(
    target: Target[Any], answer: LiveAnswer, plan: GroupPlan, gate: WriteGate, **recorded: Any
) -> Settled | None:
    """What a diffed group comes to when it sends no write: its plan shown (a dry run), in line
    (``recorded``: what else to record of it), or held back (the change budget is spent).
    None: its writes go out, admitted by ``gate``."""
    if gate.dry_run:
        outcome = Outcome.IN_SYNC if plan.in_sync else Outcome.UPDATED
        result = GroupResult(plan.group_id, outcome, warnings=list(plan.warnings), desired_digest=target.desired_digest)
        return Settled(result, plan)
    if plan.in_sync:
        return Settled(in_line(target, answer, plan.warnings, **recorded), plan)
    return None if gate.admit() else _held_back(plan, gate)


def planned_writes(plan: GroupPlan, live: Mapping[str, Any], gate: WriteGate) -> Settled | None:
    """What a saved plan's group comes to before its writes go out: in line when it holds every
    value the plan writes already (applied before: a canary, say), stale when a value the plan
    overwrites is no longer what it was planned against (``live``: the group's values now, by
    field), held back when the budget is spent. None: its saved writes go out."""
    if all(live.get(c.field) == c.new for c in plan.changes):
        return Settled(GroupResult(plan.group_id, Outcome.IN_SYNC), plan)  # applied already (a canary's)
    if changed := sorted(c.field for c in plan.changes if live.get(c.field) != c.old):
        message = f"changed since the plan: {', '.join(changed[:10])}; not written (plan again)"
        return Settled(GroupResult(plan.group_id, Outcome.STALE, None, message), plan)
    return None if gate.admit() else _held_back(plan, gate)


def _held_back(plan: GroupPlan, gate: WriteGate) -> Settled:
    """A group that needs writes once the run's change budget is spent: none is sent."""
    message = f"not written: the run's change budget of {gate.limit} groups is spent (--max-changes)"
    return Settled(GroupResult(plan.group_id, Outcome.HELD_BACK, None, message, list(plan.warnings)), plan)


def answered_entries(entries: object, ids: Sequence[str], key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each entry of a batch answer's list that names, under ``key``, an ID the batch asked for,
    once; anything else in the list is not an entry for this batch, and is passed over."""
    asked = set(ids)
    seen: set[str] = set()
    for entry in entries if isinstance(entries, list) else ():
        entry_id = entry.get(key) if isinstance(entry, dict) else None
        if isinstance(entry_id, str) and entry_id in asked and entry_id not in seen:
            seen.add(entry_id)
            yield entry_id, entry


def in_line(target: Target[Any], answer: LiveAnswer, warnings: Sequence[str] = (), **recorded: Any) -> GroupResult:
    """The outcome of a group found in line. With nothing to warn about, it records what the
    group was seen as, so that later runs can tell it unchanged at a glance."""
    if warnings:
        return GroupResult(target.group_id, Outcome.IN_SYNC, warnings=list(warnings), **recorded)
    return GroupResult(
        target.group_id,
        Outcome.IN_SYNC,
        desired_digest=target.desired_digest,
        live_digest=answer.digest,
        answer_digest=answer.answer_digest,
        **recorded,
    )


def outcome_unknown(exc: VendorError) -> bool:
    """The failed call may have reached the vendor and applied (no answer came)."""
    return bool(getattr(exc, "outcome_unknown", False))


def call_failed(group_id: str, exc: VendorError, command: str, *, not_found: bool) -> GroupResult:
    """The outcome of a group whose call ``command`` failed; ``not_found``: the vendor says the
    group does not exist."""
    message = f"{command}: {exc}"
    if outcome_unknown(exc):
        message += " (no answer: the write may or may not have applied; the next run reads the group again)"
    outcome = Outcome.NOT_FOUND if not_found else Outcome.FAILED
    return GroupResult(group_id, outcome, exc.code, message, cause=failure_cause(exc))


def failure_cause(exc: VendorError) -> str:
    """What a failed call is counted under: its result label (a vendor code, "http_502",
    "no_answer"), or its code."""
    label = getattr(exc, "label", None)  # a CallFailed's
    return label if isinstance(label, str) else str(exc.code) if exc.code is not None else "no_answer"


class BatchRead(NamedTuple):
    """A vendor's batch read: its command, how many groups one call reads, and the read itself
    (``fetch(client, group_ids, hints, same_as)``: see :meth:`Vendor.fetch_live`)."""

    command: str
    max_groups: int
    fetch: Callable[[Any, Sequence[str], Sequence[ReadHints], str | None], Awaitable[LiveBatch]]


def profile_decoder(model: Callable[..., D], columns: Mapping[str, str]) -> Callable[[str, str], D]:
    """How a row of a vendor's view, read in full (sql/desired/<vendor>.sql), becomes its
    desired model: ``model``'s fields after the ID are ``columns``, in order, each of its kind."""

    def decode(group_id: str, profile: str) -> D:
        return model(group_id, *decode_profile(profile, columns))

    return decode


class VendorBase:
    """What every vendor's class shares: made with the run's settings and the vendor's client
    (its limits, retries and signing: :class:`syncer.client.VendorClient`), it reads batches as
    its ``read`` says, and settles a group by its answer's digest unless it says otherwise."""

    name: str
    read: ClassVar[BatchRead]

    def __init__(self, settings: Settings, client: VendorClient) -> None:
        self._settings = settings
        self.client = client
        self.batch_max = self.read.max_groups
        self.read_command = self.read.command

    def lock_scope(self) -> str:
        return self._settings.app_scope()

    async def fetch_live(
        self, group_ids: Sequence[str], hints: Sequence[ReadHints], *, same_as: str | None = None
    ) -> LiveBatch:
        return await self.read.fetch(self.client, group_ids, hints, same_as)

    def settles_by_digest(self, hints: ReadHints) -> bool:
        return True  # the batch read answers for everything the vendor's diff reads


class Probes(Protocol):
    """What `syncer check` asks of a vendor (each vendor's preflight module), through ``client``."""

    client: VendorClient
    base_url: str
    base_url_setting: str

    async def credentials(self) -> str:
        """One cheap read that only valid credentials get answered; what it proved."""
        ...

    def managed_keys(self, shapes: Sequence[str]) -> list[str] | None:
        """The keys the desired rows name that must be enabled at the vendor; None: none need be."""
        ...

    async def keys_refused(self, canary: str, keys: Sequence[str]) -> list[str]:
        """Which of ``keys`` the vendor refuses, found on the canary without changing it."""
        ...

    async def attributes(self, canary: str | None) -> str | None:
        """That the attribute service answers; None: the vendor has none."""
        ...


class Calls(Protocol):
    """What the pipeline reads of a vendor's client (:class:`syncer.client.VendorClient`): the
    limits it keeps, what it sent, and the switch that stops it sending."""

    @property
    def limits(self) -> Mapping[str, int]:
        """Calls per second, by command."""
        ...

    @property
    def calls(self) -> Mapping[str, int]:
        """HTTP requests sent, by command."""
        ...

    @property
    def peak_sends_per_second(self) -> Mapping[str, int]: ...

    @property
    def held(self) -> Mapping[str, int]:
        """Calls that waited for their limiter, by command."""
        ...

    @property
    def throttled(self) -> int: ...

    @property
    def retries(self) -> int: ...

    @property
    def retry_causes(self) -> Mapping[str, int]:
        """Retries by what the failed attempt got (a code, "http_502", "no_answer")."""
        ...

    @property
    def stopping(self) -> asyncio.Event: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> None: ...


class Vendor(Protocol[D, L]):
    """A vendor, generic in its desired model ``D`` and its live model ``L``."""

    name: str  # the records and the lock say which vendor a run was for
    batch_max: int  # groups per batch read
    read_command: str  # the batch read's command, as a failed read's message names it

    @property
    def client(self) -> Calls: ...

    def lock_scope(self) -> str:
        """What one run at a time is about: the vendor and the app, as ``<vendor>.<app ID>``."""
        ...

    def decode(self, group_id: str, profile: str) -> D:
        """The desired model of a row read in full (``profile``: its view's JSON object).
        :class:`syncer.errors.Malformed`, naming the field, for a value that is not of its type."""
        ...

    def validate(self, desired: D) -> list[str]:
        """Every problem with the row, each naming its field; empty when it may be sent."""
        ...

    async def fetch_live(
        self, group_ids: Sequence[str], hints: Sequence[ReadHints], *, same_as: str | None = None
    ) -> LiveBatch:
        """What the vendor answered for the batch (up to ``batch_max`` groups, in this order),
        read with :meth:`VendorClient.read`, which is told to expect an answer whose digest is
        ``same_as``. ``hints``: what the read must ask for (one for a whole seen batch)."""
        ...

    def settles_by_digest(self, hints: ReadHints) -> bool:
        """Whether the group (or every group of a seen batch) needs no call and no diff when the
        vendor answers for it as it did when it was last seen in line: nothing else
        (attributes due for a re-check, say) asks for a closer look. Pure and cheap: most
        groups of a routine run end here."""
        ...

    def parse_live(self, raw: Mapping[str, Any]) -> L:
        """The live model of one group's answer. :class:`syncer.errors.Malformed` if a field the
        diff reads is not of its documented type."""
        ...

    def plan_of_changes(self, group_id: str, changes: Sequence[FieldChange]) -> GroupPlan:
        """The writes that set each change's field to its ``new`` value, checked against its
        ``old`` one when applied (a revert's plan, from the change journal)."""
        ...

    def apply_planned(self, target: Target[D], live: L, plan: GroupPlan, gate: WriteGate) -> Decision:
        """A saved plan's writes for the group, exactly, unless a value they overwrite changed
        since (stale: see :func:`planned_writes`); reading first what the plan's changes need."""
        ...

    def settle(self, target: Target[D], live: L, answer: LiveAnswer, gate: WriteGate) -> Decision:
        """Diff the group once and decide: settled now (in line, or a plan in a dry run), or
        the calls that settle it (reads still needed, then the writes ``gate`` admits; see
        :func:`without_writes`)."""
        ...
