"""Local checks of every documented Tencent limit, so an invalid row costs no vendor call.

The vendor counts UTF-8 bytes, not characters (tencent-facts.md), so every length here is in bytes.
"""

from __future__ import annotations

import re
from typing import Any

from syncer.quoting import quote
from syncer.tencent.models import DesiredGroup
from syncer.textmaps import TextMapLimits, text_map_problems

GROUP_ID_MAX_BYTES = 48
NAME_MAX_BYTES = 30
INTRODUCTION_MAX_BYTES = 240
NOTIFICATION_MAX_BYTES = 300
FACE_URL_MAX_BYTES = 100
CUSTOM_KEY_MAX_BYTES = 16
CUSTOM_VALUE_MAX_BYTES = 512
CUSTOM_MAX_KEYS = 10
ATTR_KEY_MAX_BYTES = 32
ATTR_VALUE_MAX_BYTES = 4000
ATTR_MAX_KEYS = 16
ATTR_TOTAL_VALUE_MAX_BYTES = 16000

APPLY_JOIN_OPTIONS = ("FreeAccess", "NeedPermission", "DisableApply")
INVITE_JOIN_OPTIONS = ("FreeAccess", "NeedPermission", "DisableInvite")

# Each text column's limit, in UTF-8 bytes.
TEXT_LIMITS = (
    ("name", NAME_MAX_BYTES),
    ("introduction", INTRODUCTION_MAX_BYTES),
    ("notification", NOTIFICATION_MAX_BYTES),
    ("face_url", FACE_URL_MAX_BYTES),
)


def utf8_len(text: str) -> int:
    if text.isascii():  # most text: one byte a character, without encoding it
        return len(text)
    return len(text.encode("utf-8", errors="surrogatepass"))


_PRINTABLE_ASCII = re.compile(r"[!-~]*")


def validate_group_id(group_id: str) -> list[str]:
    if group_id == "":
        return ["group_id: must not be empty"]
    problems = []
    if (size := utf8_len(group_id)) > GROUP_ID_MAX_BYTES:
        problems.append(f"group_id: {size} bytes, limit {GROUP_ID_MAX_BYTES} bytes")
    if not _PRINTABLE_ASCII.fullmatch(group_id):
        # Printable ASCII only: a space, a control or a non-ASCII character in a key is almost
        # always a data error, and trimming it silently would sync the wrong group.
        problems.append("group_id: only printable ASCII without spaces is accepted")
    return problems


def validate(row: DesiredGroup) -> list[str]:
    """Every problem with one desired row, each as ``field: what is wrong (the limit)``.

    An empty list means the row may be sent. Callers prefix the group ID when reporting.
    """
    problems = validate_group_id(row.group_id)

    for column, limit in TEXT_LIMITS:
        value = getattr(row, column)
        if value is None:
            continue
        if type(value) is not str:
            problems.append(f"{column}: must be text, got {type(value).__name__}")
        elif (size := utf8_len(value)) > limit:
            problems.append(f"{column}: {size} bytes, limit {limit} bytes")
    if row.name == "":
        problems.append("name: must not be empty (a group keeps a name; use NULL to leave it unmanaged)")

    if row.max_member_num is not None and row.max_member_num <= 0:
        problems.append(f"max_member_num: must be positive, got {row.max_member_num}")
    if row.apply_join_option is not None and row.apply_join_option not in APPLY_JOIN_OPTIONS:
        problems.append(
            f"apply_join_option: {quote(row.apply_join_option)} is not one of {', '.join(APPLY_JOIN_OPTIONS)}"
        )
    if row.invite_join_option is not None and row.invite_join_option not in INVITE_JOIN_OPTIONS:
        problems.append(
            f"invite_join_option: {quote(row.invite_join_option)} is not one of {', '.join(INVITE_JOIN_OPTIONS)}"
        )

    problems += _validate_custom_fields(row.app_defined_data)
    problems += _validate_attrs(row.group_attrs)
    return problems


_CUSTOM_FIELDS = TextMapLimits(
    "app_defined_data", CUSTOM_KEY_MAX_BYTES, CUSTOM_VALUE_MAX_BYTES, utf8_len, "bytes", deleting=(None, "")
)
_ATTRS = TextMapLimits("group_attrs", ATTR_KEY_MAX_BYTES, ATTR_VALUE_MAX_BYTES, utf8_len, "bytes")


def _validate_custom_fields(data: Any) -> list[str]:
    problems, kept = text_map_problems(data, _CUSTOM_FIELDS)
    if len(kept) > CUSTOM_MAX_KEYS:
        problems.append(f"app_defined_data: {len(kept)} keys with values, limit {CUSTOM_MAX_KEYS}")
    return problems


def _validate_attrs(attrs: Any) -> list[str]:
    problems, texts = text_map_problems(attrs, _ATTRS)
    if isinstance(attrs, dict) and len(attrs) > ATTR_MAX_KEYS:
        problems.append(f"group_attrs: {len(attrs)} keys, limit {ATTR_MAX_KEYS}")
    if (total := sum(map(utf8_len, texts.values()))) > ATTR_TOTAL_VALUE_MAX_BYTES:
        problems.append(f"group_attrs: values total {total} bytes, limit {ATTR_TOTAL_VALUE_MAX_BYTES} bytes")
    return problems
