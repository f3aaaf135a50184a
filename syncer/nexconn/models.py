"""What a group channel should be, and what it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syncer.nexconn.api import PERMISSIONS
from syncer.vendor import JSON, TEXT, WHOLE_NUMBER, profile_decoder


@dataclass(slots=True)  # not frozen: one per group, and a frozen __init__ is dearer
class DesiredChannel:
    """One row of desired_group_channels. ``None`` means "not managed": the live value stays."""

    channel_id: str
    name: str | None = None
    introduction: str | None = None
    announcement: str | None = None
    portrait_url: str | None = None
    join_perm: int | None = None
    remove_perm: int | None = None
    mem_invite_perm: int | None = None
    invite_perm: int | None = None
    profile_perm: int | None = None
    mem_profile_perm: int | None = None
    # Raw JSON-decoded value: validation decides whether it has the right shape.
    ext_profile: Any = None

    @property
    def group_id(self) -> str:
        return self.channel_id


@dataclass(slots=True)  # not frozen: one per group, and a frozen __init__ is dearer
class LiveChannel:
    """A channel as profile/list reported it: profile fields by column name, permissions by
    column name, extended profile by key."""

    channel_id: str
    profile: Mapping[str, Any]
    permissions: Mapping[str, Any]
    ext: Mapping[str, str]


# Each managed column of the vendor's view's profile, in the order of DesiredChannel's fields, and its
# kind (tests/test_decoding_properties.py holds them to it).
PROFILE_COLUMNS: dict[str, str] = {
    "name": TEXT,
    "introduction": TEXT,
    "announcement": TEXT,
    "portrait_url": TEXT,
    **dict.fromkeys(PERMISSIONS, WHOLE_NUMBER),
    "ext_profile": JSON,
}
decode_desired = profile_decoder(DesiredChannel, PROFILE_COLUMNS)
