"""JSON on the hot path: orjson where it can, the standard library where it cannot.

A no-op run decodes every answer and every desired row's JSON columns; orjson does that
faster. It refuses a few things the standard library takes (integers beyond 64
bits, NaN): those fall back, so what decodes is never narrower than ``json``'s.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """The value of one JSON document; :class:`ValueError` if it is not one."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data)
    except RecursionError:
        # Nested deeper than either decoder goes (orjson stops at 1,024 levels): no value of
        # syncer's is, so it is malformed, not a reason to stop the run.
        raise ValueError("JSON nested too deep") from None


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (not ASCII-escaped), as request bodies and jsonb parameters want. A
    lone surrogate (which only a vendor's answer, decoded, can carry into a message) becomes
    "?": no UTF-8 spells it, and Postgres takes no escape of it."""
    try:
        return orjson.dumps(value)
    except TypeError:
        pass
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def dumps_text(value: Any) -> str:
    return dumps(value).decode("utf-8")


def canonical(value: Any) -> bytes:
    """One spelling per value, whatever its keys' order: what a digest of it is taken over."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        pass
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
