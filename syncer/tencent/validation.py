"""Local checks of every documented Tencent limit, so an invalid row costs no vendor call.

The vendor counts UTF-8 bytes, not characters (tencent-facts.md), so every length here is in bytes.
"""

from __future__ import annotations

import re
from typing import Any

from syncer.quoting import quote
from syncer.tencent.models import DesiredGroup

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

_TEXT_LIMITS = (
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

    for column, limit in _TEXT_LIMITS:
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


def _validate_custom_fields(data: Any) -> list[str]:
    if data is None:
        return []
    if not isinstance(data, dict):
        return [f"app_defined_data: must be a JSON object, got {_json_kind(data)}"]
    problems = []
    kept = 0
    for key, value in data.items():
        if key == "":
            problems.append("app_defined_data: a key must not be empty")
        elif (size := utf8_len(key)) > CUSTOM_KEY_MAX_BYTES:
            problems.append(f"app_defined_data[{quote(key)}]: key is {size} bytes, limit {CUSTOM_KEY_MAX_BYTES} bytes")
        if value is None or value == "":
            continue  # deletes the key
        if not isinstance(value, str):
            problems.append(f"app_defined_data[{quote(key)}]: value must be a string or null, got {_json_kind(value)}")
            continue
        kept += 1
        if (size := utf8_len(value)) > CUSTOM_VALUE_MAX_BYTES:
            problems.append(
                f"app_defined_data[{quote(key)}]: value is {size} bytes, limit {CUSTOM_VALUE_MAX_BYTES} bytes"
            )
    if kept > CUSTOM_MAX_KEYS:
        problems.append(f"app_defined_data: {kept} keys with values, limit {CUSTOM_MAX_KEYS}")
    return problems


def _validate_attrs(attrs: Any) -> list[str]:
    if attrs is None:
        return []
    if not isinstance(attrs, dict):
        return [f"group_attrs: must be a JSON object, got {_json_kind(attrs)}"]
    problems = []
    total = 0
    for key, value in attrs.items():
        if key == "":
            problems.append("group_attrs: a key must not be empty")
        elif (size := utf8_len(key)) > ATTR_KEY_MAX_BYTES:
            problems.append(f"group_attrs[{quote(key)}]: key is {size} bytes, limit {ATTR_KEY_MAX_BYTES} bytes")
        if not isinstance(value, str):
            problems.append(f"group_attrs[{quote(key)}]: value must be a string, got {_json_kind(value)}")
            continue
        size = utf8_len(value)
        total += size
        if size > ATTR_VALUE_MAX_BYTES:
            problems.append(f"group_attrs[{quote(key)}]: value is {size} bytes, limit {ATTR_VALUE_MAX_BYTES} bytes")
    if len(attrs) > ATTR_MAX_KEYS:
        problems.append(f"group_attrs: {len(attrs)} keys, limit {ATTR_MAX_KEYS}")
    if total > ATTR_TOTAL_VALUE_MAX_BYTES:
        problems.append(f"group_attrs: values total {total} bytes, limit {ATTR_TOTAL_VALUE_MAX_BYTES} bytes")
    return problems


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
