"""Desired vs live → the minimal writes. Pure functions: no I/O, no clock."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from syncer import jsoncodec
from syncer.models import FieldChange, GroupPlan
from syncer.tencent.api import TYPE_RESTRICTED_FIELDS
from syncer.tencent.models import BASE_FIELDS, DesiredGroup, LiveGroup


def mute_flag(value: bool) -> str:
    return "On" if value else "Off"


def attrs_fingerprint(attrs: Mapping[str, str]) -> str:
    """A stable digest of an attribute set: equal sets, equal fingerprints, whatever the key order."""
    # jsoncodec.canonical spells a str → str mapping byte for byte as json.dumps(sort_keys=True,
    # ensure_ascii=False, compact) did when the fingerprints already recorded were taken.
    return hashlib.sha256(jsoncodec.canonical(dict(attrs))).hexdigest()


def plan_group(row: DesiredGroup, live: LiveGroup) -> GroupPlan:
    """The writes that make ``live`` match ``row`` for every field the row manages.

    ``row`` must already be valid (see :mod:`syncer.tencent.validation`). ``live.attrs`` is None when the
    attributes were not read this run: they are then taken to be in line.
    """
    changes: list[FieldChange] = []
    warnings: list[str] = []
    payload = _base_changes(row, live, changes, warnings)
    custom_items = _custom_changes(row, live, changes)
    if custom_items:
        payload["AppDefinedData"] = custom_items
    attrs = _attrs_change(row, live, changes)
    base_payload = {"GroupId": row.group_id, **payload} if payload else None
    calls = (("modify_group_base_info",) if base_payload else ()) + (
        ("set_group_attr" if attrs else "delete_group_attr",) if attrs is not None else ()
    )
    return GroupPlan(row.group_id, base_payload, attrs, tuple(changes), tuple(warnings), calls)


def _base_changes(
    row: DesiredGroup, live: LiveGroup, changes: list[FieldChange], warnings: list[str]
) -> dict[str, Any]:
    """The base fields to send; one the group's type does not let change is a warning instead."""
    payload: dict[str, Any] = {}
    base = live.base
    for column, vendor_field in _BASE_PAIRS:
        want = getattr(row, column)
        if want is None:
            continue
        if vendor_field == "MuteAllMember":
            want = mute_flag(bool(want))
        have = base.get(vendor_field)
        if have == want:
            continue
        if vendor_field in TYPE_RESTRICTED_FIELDS.get(live.group_type, ()):
            warnings.append(f"{column}: {vendor_field} cannot be changed for {live.group_type} groups; not sent")
            continue
        payload[vendor_field] = want
        changes.append(FieldChange(vendor_field, have, want))
    return payload


_BASE_PAIRS = tuple(BASE_FIELDS.items())


def _custom_changes(row: DesiredGroup, live: LiveGroup, changes: list[FieldChange]) -> list[dict[str, str]]:
    items: list[dict[str, str]] = []
    if not isinstance(row.app_defined_data, dict):
        return items
    for key, value in row.app_defined_data.items():
        have = live.custom.get(key)
        if value is None or value == "":
            if have not in (None, ""):
                # The vendor deletes a custom field when it is sent with an empty value.
                items.append({"Key": key, "Value": ""})
                changes.append(FieldChange(f"AppDefinedData.{key}", have, None))
        elif have != value:
            items.append({"Key": key, "Value": value})
            changes.append(FieldChange(f"AppDefinedData.{key}", have, value))
    return items


def _attrs_change(row: DesiredGroup, live: LiveGroup, changes: list[FieldChange]) -> dict[str, str] | None:
    """The complete attribute set to apply, or None when it is in line (or was not read)."""
    if not isinstance(row.group_attrs, dict) or live.attrs is None:
        return None
    want_attrs = {str(k): str(v) for k, v in row.group_attrs.items()}
    if dict(live.attrs) == want_attrs:
        return None
    # The set is written whole; what it changes, key by key (None: absent before, or after).
    for key in sorted(live.attrs.keys() | want_attrs.keys()):
        if live.attrs.get(key) != want_attrs.get(key):
            changes.append(FieldChange(f"GroupAttr.{key}", live.attrs.get(key), want_attrs.get(key)))
    return want_attrs


def live_values(live: LiveGroup) -> dict[str, Any]:
    """The group's live values by the changes' field names (a custom field's or an attribute's
    key on its own): what a saved plan's changes are checked against."""
    values: dict[str, Any] = {name: live.base.get(name) for name in BASE_FIELDS.values()}
    values |= {f"AppDefinedData.{k}": v for k, v in live.custom.items()}
    values |= {f"GroupAttr.{k}": v for k, v in (live.attrs or {}).items()}
    return values


def plan_of_changes(group_id: str, changes: Sequence[FieldChange]) -> GroupPlan:
    """The writes of each change's new value (a revert's: the values a run replaced). A base
    field that was absent is not written; a custom field is deleted with ""; attribute keys are
    written as the set live then, each changed key set back (``attrs`` None: the set is made from
    the live one when it is read, see TencentVendor.apply_planned)."""
    payload: dict[str, Any] = {}
    custom: list[dict[str, str]] = []
    written = []
    for change in changes:
        head, dot, key = change.field.partition(".")
        if head == "AppDefinedData" and dot:
            custom.append({"Key": key, "Value": change.new or ""})
        elif head == "GroupAttr" and dot:
            pass  # the set is written whole
        elif change.field in BASE_FIELDS.values() and change.new is not None:
            payload[change.field] = change.new
        else:
            continue
        written.append(change)
    if custom:
        payload["AppDefinedData"] = custom
    attr_changes = any(c.field.startswith("GroupAttr.") for c in written)
    base = {"GroupId": group_id, **payload} if payload else None
    calls = (("modify_group_base_info",) if base else ()) + (("set_group_attr",) if attr_changes else ())
    return GroupPlan(group_id, base, None, tuple(written), calls=calls)


def attrs_with_changes(live: Mapping[str, str], changes: Sequence[FieldChange]) -> dict[str, str]:
    """The live attribute set with each changed key set to its new value (None: removed)."""
    attrs = dict(live)
    for change in changes:
        head, dot, key = change.field.partition(".")
        if head == "GroupAttr" and dot:
            if change.new is None:
                attrs.pop(key, None)
            else:
                attrs[key] = str(change.new)
    return attrs
