"""Tencent's models: what a group should be (a desired_group_profiles row) and what it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syncer.vendor import BOOLEAN, JSON, TEXT, WHOLE_NUMBER, profile_decoder

# The vendor's field name for each managed base column, in the order they appear in a payload.
BASE_FIELDS: dict[str, str] = {
    "name": "Name",
    "introduction": "Introduction",
    "notification": "Notification",
    "face_url": "FaceUrl",
    "max_member_num": "MaxMemberNum",
    "apply_join_option": "ApplyJoinOption",
    "invite_join_option": "InviteJoinOption",
    "mute_all_member": "MuteAllMember",
}


@dataclass(slots=True)  # not frozen: one per group, and a frozen __init__ is dearer
class DesiredGroup:
    """One row of the desired table. ``None`` means "not managed": the live value stays."""

    group_id: str
    name: str | None = None
    introduction: str | None = None
    notification: str | None = None
    face_url: str | None = None
    max_member_num: int | None = None
    apply_join_option: str | None = None
    invite_join_option: str | None = None
    mute_all_member: bool | None = None
    # Raw JSON-decoded values: validation decides whether they have the right shape.
    app_defined_data: Any = None
    group_attrs: Any = None


@dataclass(slots=True)  # not frozen: one per group, and a frozen __init__ is dearer
class LiveGroup:
    """A group as ``get_group_info`` (and, when read, ``get_group_attr``) reported it."""

    group_id: str
    group_type: str
    base: Mapping[str, Any]  # vendor field name -> value, only the fields the answer carried
    custom: Mapping[str, str]  # custom-field key -> value, only managed keys
    attrs: Mapping[str, str] | None = None  # None: not read this run


# Each managed column of the vendor's view's profile, in the order of DesiredGroup's fields, and its
# kind (tests/test_decoding_properties.py holds them to it).
PROFILE_COLUMNS: dict[str, str] = {
    "name": TEXT,
    "introduction": TEXT,
    "notification": TEXT,
    "face_url": TEXT,
    "max_member_num": WHOLE_NUMBER,
    "apply_join_option": TEXT,
    "invite_join_option": TEXT,
    "mute_all_member": BOOLEAN,
    "app_defined_data": JSON,
    "group_attrs": JSON,
}
decode_desired = profile_decoder(DesiredGroup, PROFILE_COLUMNS)
