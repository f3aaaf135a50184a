"""Values from outside, quoted in a message: enough to recognise them, never all of a huge one.

A desired row or a vendor answer may carry a value of megabytes (a key, an error text, a nested
document); a message that echoes it whole floods logs and ``error_message``. Every message that
quotes such a value goes through :func:`quote` (a Python literal) or :func:`clip` (plain text).
"""

from __future__ import annotations

import reprlib

QUOTE_LIMIT = 100  # bytes of a value a message shows


def _cut(text: str, limit: int) -> tuple[str, int | None]:
    """``text`` cut to at most ``limit`` UTF-8 bytes (on a character boundary), and its full
    size in bytes when it was cut (None when whole)."""
    if len(text) * 4 <= limit:  # cannot be over the limit, whatever its characters
        return text, None
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return text, None
    return encoded[:limit].decode("utf-8", "ignore"), len(encoded)


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Plain ``text`` of at most ``limit`` bytes; when cut, it says how long it was."""
    head, size = _cut(text, limit)
    return head if size is None else f"{head}… ({size:,} bytes)"


_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = QUOTE_LIMIT + 2
_REPR.maxother = QUOTE_LIMIT
_REPR.maxdict = _REPR.maxlist = 8


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``value`` as a literal (``'text'``, ``None``, ``{'a': …}``) of at most about ``limit``
    bytes; a string cut short says its full length in bytes. Never fails, whatever the value
    (nested a thousand deep, say)."""
    if isinstance(value, str):
        head, size = _cut(value, limit)
        return repr(value) if size is None else f"{head!r}… ({size:,} bytes)"
    text = _REPR.repr(value)
    head, size = _cut(text, limit)
    return text if size is None else f"{head}…"
