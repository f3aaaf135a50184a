"""What a vendor supplies to the shared pipeline: one small interface.

The pipeline (read desired → fetch live → diff → write → record), the records, the limiters, the
client machinery, the CLI and the metrics know nothing of any one vendor. A vendor module (for
example ``syncer/<vendor>/vendor.py``) brings its desired-row model and validation, its batch read,
its diff into write calls, its limits and error codes (through its :class:`syncer.client.Wire`),
and its signing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from syncer import jsoncodec
from syncer.client import VendorClient
from syncer.db.store import DesiredRow, DesiredSource, Row
from syncer.models import Desired, GroupPlan, GroupResult, Outcome

# Bumped when what a group's answer means for its diff changes (a field newly managed, say):
# every digest recorded before then stops matching, and each group is looked at once more.
_DIGEST_PERSON = b"syncer.live.1"


@dataclass(frozen=True, slots=True)
class ReadError:
    """A group the batch read could not return; ``not_found``: the vendor says it does not exist."""

    code: int | None
    message: str
    not_found: bool = False


@dataclass(slots=True)  # not frozen: one per group read, and a frozen __init__ costs twice as much
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
        digest = hashlib.blake2b(jsoncodec.canonical(looked_at), digest_size=16, person=_DIGEST_PERSON).hexdigest()
        return cls(raw, digest, answer_digest)


@dataclass(slots=True)  # not frozen: one per batch, and a frozen __init__ costs twice as much
class LiveBatch:
    """What one batch read answered.

    ``groups``: per group ID, a :class:`LiveAnswer` or a :class:`ReadError`; None when the
    answer was byte for byte the one the read was told to expect (``same_as``): every group of
    the batch is then as it was when last seen in line, and nothing was decoded.
    ``digest``: the whole answer's (None when it came in parts, or failed).
    """

    digest: str | None
    groups: Mapping[str, object] | None


def same_as_last_seen(row: DesiredRow, live: object) -> bool:
    """The desired row and the vendor's answer are both what they were when the group was last
    seen in line: nothing a diff looks at has changed since."""
    return isinstance(live, LiveAnswer) and live.digest == row.live_digest


def expected_answer(batch: Sequence[DesiredRow], settles_by_digest: Callable[[Row], bool]) -> str | None:
    """The digest of the batch answer every group of ``batch`` was last seen in line in, if
    they all were in the same one, their desired rows are unchanged since, and each would be
    settled by its digest: a byte-identical answer then settles the whole batch, undecoded.

    Sound because a batch answer names every group it answers for: one that matches is the
    very answer each of these groups was found in line in, so each diff would find it so again.
    """
    expected = batch[0].answer_digest if batch else None
    if expected is None:
        return None
    for row in batch:
        if row.answer_digest != expected or not settles_by_digest(row.raw):
            return None
    return expected


def in_line(row: DesiredRow, live: LiveAnswer, warnings: Sequence[str] = (), **recorded: Any) -> GroupResult:
    """The outcome of a group found in line. With nothing to warn about, it records what the
    group was seen as, so that later runs can tell it unchanged at a glance (:func:`same_as_last_seen`)."""
    result = GroupResult(row.group_id, Outcome.IN_SYNC, warnings=list(warnings), **recorded)
    if not warnings:
        result.desired_digest = row.desired_digest
        result.live_digest = live.digest
        result.answer_digest = live.answer_digest
    return result


class Vendor(Protocol):
    name: str  # the records and the lock say which vendor a run was for
    batch_max: int  # groups per batch read
    client: VendorClient
    desired: DesiredSource  # its desired table: which queries read it, and how a row decodes

    def lock_scope(self) -> str:
        """What one run at a time is about: the vendor and the app, as ``<vendor>.<app ID>``."""
        ...

    def validate(self, desired: Desired) -> list[str]:
        """Every problem with the row, each naming its field; empty when it may be sent."""
        ...

    async def fetch_live(
        self, group_ids: Sequence[str], page_rows: Sequence[Row], *, same_as: str | None = None
    ) -> LiveBatch:
        """What the vendor answered for the batch (up to ``batch_max`` groups, in this order),
        read with :meth:`VendorClient.read`, which is told to expect an answer whose digest is
        ``same_as``. ``page_rows``: the batch's rows as the page query answered them (one row for
        a :class:`SeenBatch`), for what the read asks for."""
        ...

    def settles_by_digest(self, page_row: Row) -> bool:
        """Whether the group (or every group of a :class:`SeenBatch`) needs no call and no diff
        when the vendor answers for it as it did when it was last seen in line: nothing else
        (attributes due for a re-check, say) asks for a closer look. Pure and cheap: most
        groups of a routine run end here."""
        ...

    def settle_without_calls(self, row: DesiredRow, live: object, *, dry_run: bool) -> GroupResult | None:
        """The outcome of a group that needs no further call, or None. Pure: most groups of a
        routine run end here, so it must be cheap."""
        ...

    async def sync_group(self, row: DesiredRow, live: object, *, dry_run: bool) -> tuple[GroupResult, GroupPlan | None]:
        """Read what else is needed, diff, and (unless ``dry_run``) write: the group's outcome and its plan."""
        ...
