"""SQL lives in ``.sql`` files: migrations by number, queries by ``-- name:``."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d+)_(\w+)\.sql$")


def sql_dir() -> Path:
    """The sql/ folder: inside the package when installed from a wheel, else the checkout's."""
    packaged = Path(str(resources.files("syncer"))) / "_sql"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "sql"


def _named(path: Path) -> dict[str, str]:
    parts = _NAME.split(path.read_text(encoding="utf-8"))
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@functools.cache
def queries() -> dict[str, str]:
    """syncer's queries on its own records."""
    return _named(sql_dir() / "queries.sql")


def query(name: str) -> str:
    return queries()[name]


def desired_view(vendor: str) -> str:
    """The view, of one shape for every vendor, that syncer reads ``vendor``'s desired relation
    through (sql/desired/<vendor>.sql)."""
    return f"syncer_{vendor}_desired"


@functools.cache
def desired_query(vendor: str, name: str) -> str:
    """A query of sql/queries.sql that reads a desired relation, reading ``vendor``'s: its
    ``{desired}`` is the vendor's view (a name syncer gives, never a value from outside)."""
    sql = queries()[name]
    if "{desired}" not in sql:
        raise KeyError(f"query {name!r} reads no desired relation")
    return sql.replace("{desired}", desired_view(vendor))


@functools.cache
def desired_templates(vendor: str) -> dict[str, str]:
    """A vendor's desired relation and what syncer derives from it: sql/desired/<vendor>.sql, and
    sql/desired/shared.sql for what every vendor's gets alike, with ``{relation}`` (and the like)
    for the names the settings give."""
    return _named(sql_dir() / "desired" / "shared.sql") | _named(sql_dir() / "desired" / f"{vendor}.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:03d}_{self.name}"

    @property
    def checksum(self) -> str:
        """Recorded when the migration is applied: a file edited since shows in `migrate --status`."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@functools.cache
def migrations() -> tuple[Migration, ...]:
    found = []
    for path in sorted((sql_dir() / "migrations").iterdir()):
        match = _MIGRATION.match(path.name)
        if match:
            found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return tuple(found)
