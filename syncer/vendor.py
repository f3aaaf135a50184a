"""What a vendor supplies to the shared pipeline: one small interface.

The pipeline (read desired → fetch live → diff → write → record), the records, the limiters, the
client machinery, the CLI and the metrics know nothing of any one vendor. A vendor module (for
example ``syncer/<vendor>/vendor.py``) brings its desired-row model and validation, its batch read,
its diff into write calls, its limits and error codes (through its :class:`syncer.client.Wire`),
and its signing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from syncer.client import VendorClient
from syncer.db.store import DesiredRow, DesiredSource
from syncer.models import Desired, GroupPlan, GroupResult


@dataclass(frozen=True, slots=True)
class ReadError:
    """A group the batch read could not return; ``not_found``: the vendor says it does not exist."""

    code: int | None
    message: str
    not_found: bool = False


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

    async def fetch_live(self, batch: Sequence[Desired]) -> Mapping[str, object]:
        """The live state of each group of the batch (up to ``batch_max``), or a :class:`ReadError`."""
        ...

    def settle_without_calls(self, row: DesiredRow, live: object, *, dry_run: bool) -> GroupResult | None:
        """The outcome of a group that needs no further call, or None. Pure: most groups of a
        routine run end here, so it must be cheap."""
        ...

    async def sync_group(self, row: DesiredRow, live: object, *, dry_run: bool) -> tuple[GroupResult, GroupPlan | None]:
        """Read what else is needed, diff, and (unless ``dry_run``) write: the group's outcome and its plan."""
        ...
