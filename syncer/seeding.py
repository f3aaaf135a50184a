"""What the vendors' data generators share: a data set's shape and loading desired rows with COPY.

Each vendor's generator (``syncer/<vendor>/seeding.py``) makes the rows; the demo, the tests and
the benchmark load them through here, so all three exercise the same shapes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg

from syncer.vendor import JSON

D = TypeVar("D")  # a vendor's desired model
E = TypeVar("E")  # the emulator's live object of that vendor


@dataclass
class Dataset(Generic[D, E]):
    desired: list[D] = field(default_factory=list)
    live: list[E] = field(default_factory=list)
    drifted: set[str] = field(default_factory=set)  # groups whose live state differs from desired
    invalid: set[str] = field(default_factory=set)  # desired rows validation must reject
    restricted: set[str] = field(default_factory=set)  # groups with a field their type refuses


def desired_records(rows: Sequence[Any], columns: Mapping[str, str]) -> list[tuple[object, ...]]:
    """Desired models as rows of their table: the ID, then each of ``columns`` (a vendor's
    PROFILE_COLUMNS, in the model's order), a jsonb column as its JSON text."""
    kinds = (None, *columns.values())
    return [
        tuple(_dumps(value) if kind == JSON else value for value, kind in zip(astuple(row), kinds, strict=True))
        for row in rows
    ]


def _dumps(value: object) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


async def copy_desired(
    conn: asyncpg.Connection, table: str, id_column: str, columns: Mapping[str, str], rows: Sequence[Any]
) -> None:
    """Bulk-load desired models into ``table`` with COPY (run the migrations first)."""
    records = desired_records(rows, columns)
    await conn.copy_records_to_table(table, records=records, columns=[id_column, *columns])
