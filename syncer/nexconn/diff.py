"""Desired vs live channel → the one update call carrying only what differs. Pure."""

from __future__ import annotations

from typing import Any

from syncer.models import FieldChange, GroupPlan
from syncer.nexconn.api import PERMISSIONS, PROFILE_FIELDS
from syncer.nexconn.models import DesiredChannel, LiveChannel


def plan_channel(row: DesiredChannel, live: LiveChannel) -> GroupPlan:
    """The update body (``base_payload``) that makes ``live`` match ``row`` for every managed field,
    or ``base_payload`` None when nothing differs. ``row`` must be valid.

    An ext key whose desired value is null or "" is written as "" (the API documents no delete).
    """
    changes: list[FieldChange] = []
    profile: dict[str, Any] = {}
    for column, key in PROFILE_FIELDS.items():
        want = getattr(row, column)
        have = live.profile.get(column)
        if want is not None and want != (have or ""):
            profile[key] = want
            changes.append(FieldChange(key, have, want))
    permissions: dict[str, int] = {}
    for column, (key, _) in PERMISSIONS.items():
        want = getattr(row, column)
        have = live.permissions.get(column)
        if want is not None and want != have:
            permissions[key] = want
            changes.append(FieldChange(key, have, want))
    ext: dict[str, str] = {}
    for key, value in (row.ext_profile or {}).items():
        want = value or ""
        have = live.ext.get(key)
        if want != (have or ""):
            ext[key] = want
            changes.append(FieldChange(f"groupExtProfile.{key}", have, want))
    if not changes:
        return GroupPlan(row.channel_id, None, None)
    body: dict[str, Any] = {"channelId": row.channel_id}
    if profile:
        body["groupProfile"] = profile
    if permissions:
        body["permissions"] = permissions
    if ext:
        body["groupExtProfile"] = ext
    return GroupPlan(row.channel_id, body, None, tuple(changes), calls=("profile_update",))
