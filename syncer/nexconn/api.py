"""The Nexconn Platform Chat API calls syncer uses, their limits, and what each code means
(nexconn-facts.md, 001_d560fea87c172fb8.txt)."""

from __future__ import annotations

from syncer.client import CodeClass, code_class

COMMAND_PATHS: dict[str, str] = {
    "profile_list": "v4/group-channel/profile/list",
    "profile_update": "v4/group-channel/profile/update",
}
DEFAULT_RATE_LIMIT = 100  # calls per second, per call
CHANNEL_BATCH_MAX = 50  # profile/list takes at most 50 channel IDs


# Limits are in characters, not bytes.
CHANNEL_ID_MAX = 64
NAME_MAX = 64
INTRODUCTION_MAX = 512
ANNOUNCEMENT_MAX = 1024
PORTRAIT_URL_MAX = 128
EXT_PREFIX = "ext_"
EXT_KEY_MAX = 32
EXT_VALUE_MAX = 256
EXT_MAX_PAIRS = 10

# Column → (answer key in "permissions", highest value).
PERMISSIONS: dict[str, tuple[str, int]] = {
    "join_perm": ("joinPerm", 3),
    "remove_perm": ("removePerm", 2),
    "mem_invite_perm": ("memInvitePerm", 2),
    "invite_perm": ("invitePerm", 1),
    "profile_perm": ("profilePerm", 2),
    "mem_profile_perm": ("memProfilePerm", 2),
}
# Column → key in "groupProfile" ("name" comes back top-level in answers).
PROFILE_FIELDS: dict[str, str] = {
    "name": "name",
    "introduction": "introduction",
    "announcement": "announcement",
    "portrait_url": "portraitUrl",
}

THROTTLED = 1008  # with HTTP 429
TIMED_OUT_INSIDE = 1050  # the vendor's internal timeout: retry
CHANNEL_NOT_FOUND = 25410  # unconfirmed for the server API: what the client SDKs use
# The run cannot succeed for any channel with these: stop at once and say which setting to check.
_SETTING_TO_CHECK: dict[int, str] = {
    1001: "NEXCONN_APP_SECRET (the vendor does not accept the app's secret)",
    1004: "NEXCONN_APP_KEY and NEXCONN_APP_SECRET (the signature does not verify)",
    1007: "the app's IP restriction (this machine's address is not allowed)",
    1009: "the app's services (group channels are not enabled for this app)",
}
# A write refused for what it carries: permanent for that channel.
INVALID_PARAMETER = 1002
VALUE_TOO_LONG = 1005


def classify(code: int) -> CodeClass:
    return code_class(code, transient=(THROTTLED, TIMED_OUT_INSIDE), fatal=_SETTING_TO_CHECK.__contains__)


def setting_to_check(code: int) -> str:
    return _SETTING_TO_CHECK.get(code, "NEXCONN_APP_KEY and NEXCONN_APP_SECRET")
