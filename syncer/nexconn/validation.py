"""Local checks of every documented Nexconn limit, so an invalid row costs no call.

Nexconn counts characters, not bytes (nexconn-facts.md).
"""

from __future__ import annotations

import re

from syncer.nexconn.api import (
    ANNOUNCEMENT_MAX,
    CHANNEL_ID_MAX,
    EXT_KEY_MAX,
    EXT_MAX_PAIRS,
    EXT_PREFIX,
    EXT_VALUE_MAX,
    INTRODUCTION_MAX,
    NAME_MAX,
    PERMISSIONS,
    PORTRAIT_URL_MAX,
)
from syncer.nexconn.models import DesiredChannel
from syncer.quoting import quote
from syncer.textmaps import TextMapLimits, text_map_problems

_CHANNEL_ID = re.compile(r"[A-Za-z0-9]+")
_TEXT_LIMITS = (
    ("name", NAME_MAX),
    ("introduction", INTRODUCTION_MAX),
    ("announcement", ANNOUNCEMENT_MAX),
    ("portrait_url", PORTRAIT_URL_MAX),
)


def validate(row: DesiredChannel) -> list[str]:
    """Every problem with one desired row, each as ``field: what is wrong (the limit)``."""
    return _validate_id(row.channel_id) + _validate_fields(row) + _validate_ext(row.ext_profile)


def _validate_id(channel_id: object) -> list[str]:
    if not isinstance(channel_id, str) or not channel_id:
        return ["channel_id: must not be empty"]
    problems = []
    if len(channel_id) > CHANNEL_ID_MAX:
        problems.append(f"channel_id: {len(channel_id)} characters, limit {CHANNEL_ID_MAX}")
    if not _CHANNEL_ID.fullmatch(channel_id):
        problems.append("channel_id: only letters and digits are accepted")
    return problems


def _validate_fields(row: DesiredChannel) -> list[str]:
    problems = []
    for column, limit in _TEXT_LIMITS:
        value = getattr(row, column)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"{column}: must be text, got {quote(value)}")
        elif len(value) > limit:
            problems.append(f"{column}: {len(value)} characters, limit {limit} characters")
    for column, (_, highest) in PERMISSIONS.items():
        value = getattr(row, column)
        if value is not None and (type(value) is not int or not 0 <= value <= highest):
            problems.append(f"{column}: {quote(value)} is not one of 0..{highest}")
    return problems


_EXT = TextMapLimits("ext_profile", EXT_KEY_MAX, EXT_VALUE_MAX, len, "characters", deleting=(None,))


def _validate_ext(ext: object) -> list[str]:
    problems, _ = text_map_problems(ext, _EXT)
    if not isinstance(ext, dict):
        return problems
    if len(ext) > EXT_MAX_PAIRS:
        problems.append(f"ext_profile: {len(ext)} keys, limit {EXT_MAX_PAIRS}")
    problems += [
        f"ext_profile[{quote(k)}]: keys must start with {EXT_PREFIX!r}" for k in ext if not k.startswith(EXT_PREFIX)
    ]
    return problems
