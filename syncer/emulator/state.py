"""The emulator's groups and its per-command sliding windows."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

GROUP_TYPES = ("Private", "Public", "ChatRoom", "AVChatRoom", "Community", "Work", "Meeting", "BChatRoom")


@dataclass
class EmuGroup:
    group_id: str
    type: str = "Public"
    name: str = ""
    introduction: str = ""
    notification: str = ""
    face_url: str = ""
    max_member_num: int = 2000
    apply_join_option: str = "FreeAccess"
    invite_join_option: str = "FreeAccess"
    mute_all_member: str = "Off"
    app_defined_data: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, str] = field(default_factory=dict)
    owner: str = "administrator"
    member_num: int = 1
    create_time: int = 1700000000
    info_seq: int = 1
    # Answer the mute field under its older name, as older deployments do.
    legacy_mute_name: bool = False

    def base_fields(self) -> dict[str, Any]:
        return {
            "GroupId": self.group_id,
            "Type": self.type,
            "Name": self.name,
            "Introduction": self.introduction,
            "Notification": self.notification,
            "FaceUrl": self.face_url,
            "Owner_Account": self.owner,
            "CreateTime": self.create_time,
            "InfoSeq": self.info_seq,
            "LastInfoTime": self.create_time,
            "LastMsgTime": self.create_time,
            "NextMsgSeq": 1,
            "MemberNum": self.member_num,
            "MaxMemberNum": self.max_member_num,
            "ApplyJoinOption": self.apply_join_option,
            "InviteJoinOption": self.invite_join_option,
            "ShutUpAllMember" if self.legacy_mute_name else "MuteAllMember": self.mute_all_member,
        }

    def member_list(self) -> list[dict[str, Any]]:
        members = [{"Member_Account": self.owner, "Role": "Owner", "JoinTime": self.create_time}]
        members += [
            {"Member_Account": f"user_{i:07d}", "Role": "Member", "JoinTime": self.create_time}
            for i in range(1, self.member_num)
        ]
        return members

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.base_fields(),
            "MuteAllMember": self.mute_all_member,
            "AppDefinedData": dict(self.app_defined_data),
            "GroupAttr": dict(self.attrs),
        }


class SlidingWindow:
    """Admits at most ``limit`` events in any window of ``period`` seconds (the vendor's view)."""

    def __init__(self, limit: int, period: float = 1.0) -> None:
        self.limit = limit
        self.period = period
        self._times: deque[float] = deque()

    def admit(self, now: float) -> bool:
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


def max_in_window(times: list[float], period: float = 1.0) -> int:
    """The most events found in any half-open window of ``period`` seconds.

    Times a nanosecond short of ``period`` apart count as a period apart: float rounding, not
    rate, separates them.
    """
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= period - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


def ids_named(body: Any, list_key: str, one_key: str) -> tuple[str, ...]:
    """The IDs a request body names, under ``list_key`` (a list) or ``one_key`` (one ID): what
    the per-group limits and faults are keyed on."""
    if not isinstance(body, dict):
        return ()
    if isinstance(body.get(list_key), list):
        return tuple(str(i) for i in body[list_key])
    if one_key in body:
        return (str(body[one_key]),)
    return ()
