"""Nexconn group channels behind the shared pipeline: one batch read, one update per channel."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from syncer.client import CallFailed, VendorClient
from syncer.errors import CredentialsError, VendorError
from syncer.models import GroupPlan, GroupResult, Outcome
from syncer.nexconn.api import CHANNEL_BATCH_MAX, CHANNEL_NOT_FOUND, PERMISSIONS
from syncer.nexconn.diff import plan_channel
from syncer.nexconn.models import DesiredChannel, LiveChannel
from syncer.nexconn.ops import fetch_live, parse_live, update
from syncer.nexconn.validation import validate
from syncer.ports import ReadHints
from syncer.settings import Settings
from syncer.vendor import (
    JSON,
    TEXT,
    WHOLE_NUMBER,
    Decision,
    LiveAnswer,
    LiveBatch,
    Settled,
    Target,
    decode_profile,
    without_writes,
)

log = structlog.get_logger("syncer.nexconn")


# Each managed column of the desired relation, as its view's profile names it, and its kind, in
# the order of DesiredChannel's fields (tests/test_decoding_properties.py holds them to it).
_COLUMNS = {
    "name": TEXT,
    "introduction": TEXT,
    "announcement": TEXT,
    "portrait_url": TEXT,
    **dict.fromkeys(PERMISSIONS, WHOLE_NUMBER),
    "ext_profile": JSON,
}


def decode_desired(channel_id: str, profile: str) -> DesiredChannel:
    """A row of the view syncer_nexconn_desired, read in full (sql/desired/nexconn.sql)."""
    return DesiredChannel(channel_id, *decode_profile(profile, _COLUMNS))


class NexconnVendor:
    """Channels are read in batches of 50 (profile/list) and written with one profile/update
    carrying only the fields, permissions and ext keys that differ."""

    name = "nexconn"
    batch_max = CHANNEL_BATCH_MAX
    read_command = "profile_list"

    def __init__(self, settings: Settings, client: VendorClient) -> None:
        self._settings = settings
        self.client = client

    def lock_scope(self) -> str:
        return f"nexconn.{self._settings.nexconn.app_key}"

    decode = staticmethod(decode_desired)
    validate = staticmethod(validate)
    parse_live = staticmethod(parse_live)

    async def fetch_live(
        self, group_ids: Sequence[str], hints: Sequence[ReadHints], *, same_as: str | None = None
    ) -> LiveBatch:
        return await fetch_live(self.client, group_ids, same_as)

    def settles_by_digest(self, hints: ReadHints) -> bool:
        return True  # a channel's whole profile is in the batch read

    def settle(
        self, target: Target[DesiredChannel], live: LiveChannel, answer: LiveAnswer, *, dry_run: bool
    ) -> Decision:
        plan = plan_channel(target.desired, live)
        return without_writes(target, answer, plan, dry_run=dry_run) or self._update(plan)

    async def _update(self, plan: GroupPlan) -> Settled:
        channel_id, payload = plan.group_id, plan.base_payload
        assert payload is not None
        try:
            await update(self.client, plan)
        except CredentialsError:
            raise
        except VendorError as exc:
            message = f"profile_update: {exc}"
            if isinstance(exc, CallFailed) and exc.outcome_unknown:
                message += " (no answer: the write may or may not have applied; the next run reads the channel again)"
            outcome = Outcome.NOT_FOUND if exc.code == CHANNEL_NOT_FOUND else Outcome.FAILED
            log.warning("group_failed", group_id=channel_id, code=exc.code, error=message)
            return Settled(GroupResult(channel_id, outcome, exc.code, message), plan)
        log.debug("group_updated", group_id=channel_id, fields=[c.field for c in plan.changes])
        applied = {k: v for k, v in payload.items() if k != "channelId"}
        return Settled(GroupResult(channel_id, Outcome.UPDATED, applied=applied, changes=list(plan.changes)), plan)
