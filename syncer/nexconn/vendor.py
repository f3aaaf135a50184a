"""Nexconn group channels behind the shared pipeline: one batch read, one update per channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from syncer.budget import WriteGate
from syncer.errors import CredentialsError, VendorError
from syncer.models import GroupPlan, GroupResult, Outcome
from syncer.nexconn.api import CHANNEL_BATCH_MAX, CHANNEL_NOT_FOUND
from syncer.nexconn.diff import live_values, plan_channel, plan_of_changes
from syncer.nexconn.models import DesiredChannel, LiveChannel, decode_desired
from syncer.nexconn.ops import fetch_live, parse_live, update
from syncer.nexconn.validation import validate
from syncer.vendor import BatchRead, Settled, VendorBase, call_failed, outcome_unknown, planned_writes, without_writes

if TYPE_CHECKING:
    from syncer.vendor import Decision, LiveAnswer, Target

log = structlog.get_logger("syncer.nexconn")


class NexconnVendor(VendorBase):
    """Channels are read in batches of 50 (profile/list) and written with one profile/update
    carrying only the fields, permissions and ext keys that differ."""

    name = "nexconn"
    read = BatchRead("profile_list", CHANNEL_BATCH_MAX, fetch_live)
    decode = staticmethod(decode_desired)
    validate = staticmethod(validate)
    parse_live = staticmethod(parse_live)

    def settle(
        self, target: Target[DesiredChannel], live: LiveChannel, answer: LiveAnswer, gate: WriteGate
    ) -> Decision:
        plan = plan_channel(target.desired, live)
        return without_writes(target, answer, plan, gate) or self._update(plan)

    plan_of_changes = staticmethod(plan_of_changes)

    def apply_planned(
        self, target: Target[DesiredChannel], live: LiveChannel, plan: GroupPlan, gate: WriteGate
    ) -> Decision:
        return planned_writes(plan, live_values(live), gate) or self._update(plan)

    async def _update(self, plan: GroupPlan) -> Settled:
        channel_id, payload = plan.group_id, plan.base_payload
        assert payload is not None
        try:
            await update(self.client, plan)
        except CredentialsError:
            raise
        except VendorError as exc:
            failed = call_failed(channel_id, exc, "profile_update", not_found=exc.code == CHANNEL_NOT_FOUND)
            failed.unknown = list(plan.changes) if outcome_unknown(exc) else []
            log.warning("group_failed", group_id=channel_id, code=exc.code, error=failed.error_message)
            return Settled(failed, plan)
        log.debug("group_updated", group_id=channel_id, fields=[c.field for c in plan.changes])
        applied = {k: v for k, v in payload.items() if k != "channelId"}
        return Settled(GroupResult(channel_id, Outcome.UPDATED, applied=applied, changes=list(plan.changes)), plan)
