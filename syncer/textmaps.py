"""One check for a desired row's JSON objects of text keys to text values (Tencent's custom
fields and attributes, Nexconn's extended profile), against a vendor's limits on each key and
value. What a vendor limits on the whole (how many keys, the values' total size, a key prefix)
it checks on what this answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from syncer.quoting import quote
from syncer.vendor import json_kind


@dataclass(frozen=True, slots=True)
class TextMapLimits:
    column: str  # as messages name it
    key_max: int
    value_max: int
    size: Callable[[str], int]  # how the vendor counts: UTF-8 bytes, or characters
    unit: str  # "bytes" or "characters"
    deleting: tuple[object, ...] = ()  # values that delete their key (None, ""): not text to check


def text_map_problems(value: object, limits: TextMapLimits) -> tuple[list[str], dict[str, str]]:
    """Every problem with ``value`` as such an object, each naming the column and the key; and
    its text values (those that delete their key left out), for the vendor's checks on the whole."""
    column, unit = limits.column, limits.unit
    if value is None:
        return [], {}
    if not isinstance(value, dict):
        return [f"{column}: must be a JSON object, got {json_kind(value)}"], {}
    expected = "a string or null" if None in limits.deleting else "a string"
    problems: list[str] = []
    texts: dict[str, str] = {}
    for key, item in value.items():
        name = f"{column}[{quote(key)}]"
        if key == "":
            problems.append(f"{column}: a key must not be empty")
        elif (size := limits.size(key)) > limits.key_max:
            problems.append(f"{name}: key is {size} {unit}, limit {limits.key_max} {unit}")
        if item in limits.deleting:
            continue
        if not isinstance(item, str):
            problems.append(f"{name}: value must be {expected}, got {json_kind(item)}")
            continue
        texts[key] = item
        if (size := limits.size(item)) > limits.value_max:
            problems.append(f"{name}: value is {size} {unit}, limit {limits.value_max} {unit}")
    return problems, texts
