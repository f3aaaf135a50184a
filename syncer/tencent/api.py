"""The Tencent REST commands syncer uses, and what each error code means (tencent-facts.md)."""

from __future__ import annotations

from syncer.client import CodeClass, code_class

COMMAND_PATHS: dict[str, str] = {
    "get_group_info": "v4/group_open_http_svc/get_group_info",
    "modify_group_base_info": "v4/group_open_http_svc/modify_group_base_info",
    # Note the service name: attribute reads live under group_open_attr_http_svc.
    "get_group_attr": "v4/group_open_attr_http_svc/get_group_attr",
    "set_group_attr": "v4/group_open_http_svc/set_group_attr",
    "modify_group_attr": "v4/group_open_http_svc/modify_group_attr",
    "delete_group_attr": "v4/group_open_http_svc/delete_group_attr",
    "clear_group_attr": "v4/group_open_http_svc/clear_group_attr",
}
COMMAND_BY_PATH = {path: command for command, path in COMMAND_PATHS.items()}

# Writes to one group's attributes share a per-group limit of 5 per second (10049).
ATTR_WRITE_COMMANDS = frozenset({"set_group_attr", "modify_group_attr", "delete_group_attr", "clear_group_attr"})
WRITE_COMMANDS = ATTR_WRITE_COMMANDS | {"modify_group_base_info"}

# Base fields a group type does not accept (tencent-facts.md, "Type rules"). The vendor refuses
# the whole modify call (10007) if one is sent.
# Private = Work and ChatRoom = Meeting in the vendor's newer naming.
TYPE_RESTRICTED_FIELDS: dict[str, frozenset[str]] = {
    "AVChatRoom": frozenset({"MaxMemberNum", "InviteJoinOption", "ApplyJoinOption"}),
    "BChatRoom": frozenset({"MaxMemberNum", "ApplyJoinOption"}),
    "Private": frozenset({"ApplyJoinOption"}),
    "Work": frozenset({"ApplyJoinOption"}),
    "ChatRoom": frozenset({"ApplyJoinOption"}),
    "Meeting": frozenset({"ApplyJoinOption"}),
}

GROUP_BATCH_MAX = 50  # get_group_info takes at most 50 IDs
RESPONSE_MAX_BYTES = 1 << 20  # answers over 1 MB fail with 10018

# Codes that say "too fast": retried with backoff, and counted as throttling.
THROTTLE_CODES = frozenset({60007, 60008, 60011, 60018, 60019, 10006, 10049})
TRANSIENT_CODES = THROTTLE_CODES | frozenset({10002, 10056, 70169, 70202, 70500})
USERSIG_EXPIRED = 70001
GROUP_NOT_FOUND_CODES = frozenset({10010, 10015})
ANSWER_TOO_LARGE = 10018

# The run cannot succeed for any group with these: stop at once and say which setting to check.
_SETTING_TO_CHECK: dict[int, str] = {
    70002: "TENCENT_IM_SECRET_KEY (the UserSig is malformed)",
    70003: "TENCENT_IM_SECRET_KEY (the UserSig is malformed)",
    70005: "TENCENT_IM_SECRET_KEY (the UserSig is malformed)",
    70009: "TENCENT_IM_SECRET_KEY and TENCENT_IM_SDKAPPID (the signature does not verify)",
    70013: "TENCENT_IM_ADMIN (the UserSig identifier does not match)",
    70014: "TENCENT_IM_SDKAPPID (the UserSig SDKAppID does not match)",
    70016: "TENCENT_IM_SECRET_KEY and TENCENT_IM_SDKAPPID (no key found for this app)",
    70020: "TENCENT_IM_SDKAPPID (no such app)",
    70050: "TENCENT_IM_SECRET_KEY (too many failed signature checks: wait a minute before retrying)",
    60006: "TENCENT_IM_SDKAPPID (the SDKAppID is not valid)",
    60010: "TENCENT_IM_ADMIN (the identifier is not an App admin account)",
    60021: "the app's IP allow-list (this machine's address is not allowed)",
    10003: "TENCENT_IM_BASE_URL (the vendor does not know this command)",
    10026: "the app's console settings (this command is disabled for the app)",
}


def classify(code: int) -> CodeClass:
    return code_class(code, transient=TRANSIENT_CODES, fatal=_is_fatal, resign=(USERSIG_EXPIRED,))


def _is_fatal(code: int) -> bool:
    # 60000-79999: the app's account, its credentials and its permissions.
    return code in _SETTING_TO_CHECK or 60000 <= code <= 79999


def setting_to_check(code: int) -> str:
    return _SETTING_TO_CHECK.get(code, "TENCENT_IM_SDKAPPID, TENCENT_IM_SECRET_KEY and TENCENT_IM_ADMIN")
