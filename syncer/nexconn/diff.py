"""Desired vs live channel → the one update call carrying only what differs. Pure."""

from __future__ import annotations

from collections.abc import Sequence
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
    parts = {
        "groupProfile": _profile_changes(row, live, changes),
        "permissions": _permission_changes(row, live, changes),
        "groupExtProfile": _ext_changes(row, live, changes),
    }
    if not changes:
        return GroupPlan(row.channel_id, None, None)
    body: dict[str, Any] = {"channelId": row.channel_id, **{name: part for name, part in parts.items() if part}}
    return GroupPlan(row.channel_id, body, None, tuple(changes), calls=("profile_update",))


def _profile_changes(row: DesiredChannel, live: LiveChannel, changes: list[FieldChange]) -> dict[str, Any]:
    profile: dict[str, Any] = {}
    for column, key in PROFILE_FIELDS.items():
        want = getattr(row, column)
        have = live.profile.get(column)
        if want is not None and want != (have or ""):
            profile[key] = want
            changes.append(FieldChange(key, have, want))
    return profile


def _permission_changes(row: DesiredChannel, live: LiveChannel, changes: list[FieldChange]) -> dict[str, Any]:
    permissions: dict[str, Any] = {}
    for column, (key, _) in PERMISSIONS.items():
        want = getattr(row, column)
        have = live.permissions.get(column)
        if want is not None and want != have:
            permissions[key] = want
            changes.append(FieldChange(key, have, want))
    return permissions


def _ext_changes(row: DesiredChannel, live: LiveChannel, changes: list[FieldChange]) -> dict[str, Any]:
    ext: dict[str, Any] = {}
    for key, value in (row.ext_profile or {}).items():
        want = value or ""
        have = live.ext.get(key)
        if want != (have or ""):
            ext[key] = want
            changes.append(FieldChange(f"groupExtProfile.{key}", have, want))
    return ext


def live_values(live: LiveChannel) -> dict[str, Any]:
    """The channel's live values by the changes' field names: what a saved plan is checked against."""
    values: dict[str, Any] = {key: live.profile.get(column) for column, key in PROFILE_FIELDS.items()}
    values |= {key: live.permissions.get(column) for column, (key, _) in PERMISSIONS.items()}
    values |= {f"groupExtProfile.{k}": v for k, v in live.ext.items()}
    return values


def plan_of_changes(channel_id: str, changes: Sequence[FieldChange]) -> GroupPlan:
    """The update that writes each change's new value (a revert's: the values a run replaced).
    A profile or permission value that was absent is not written; an ext key, as "" (no delete)."""
    profile_keys = set(PROFILE_FIELDS.values())
    permission_keys = {key for key, _ in PERMISSIONS.values()}
    parts: dict[str, dict[str, Any]] = {"groupProfile": {}, "permissions": {}, "groupExtProfile": {}}
    written = []
    for change in changes:
        head, dot, key = change.field.partition(".")
        if dot and head == "groupExtProfile":
            parts["groupExtProfile"][key] = change.new or ""
        elif change.field in profile_keys and change.new is not None:
            parts["groupProfile"][change.field] = change.new
        elif change.field in permission_keys and change.new is not None:
            parts["permissions"][change.field] = change.new
        else:
            continue
        written.append(change)
    if not written:
        return GroupPlan(channel_id, None, None)
    body: dict[str, Any] = {"channelId": channel_id, **{name: part for name, part in parts.items() if part}}
    return GroupPlan(channel_id, body, None, tuple(written), calls=("profile_update",))
