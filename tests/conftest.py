"""Real parts: a real Postgres (embedded unless SYNCER_TEST_DATABASE_URL names one), a fresh
database per test, and the emulator serving HTTP on loopback."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from syncer.db.store import PgStore
from syncer.embedded import embedded_postgres, scratch_database
from syncer.emulator.server import Emulator, EmulatorConfig
from syncer.logs import configure_logging
from syncer.settings import Settings
from syncer.tencent.seeding import CUSTOM_KEYS
from syncer.vendors import desired_setups


@pytest.fixture(scope="session", autouse=True)
def _quiet_logs() -> None:
    configure_logging("warning", "json")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    url = os.environ.get("SYNCER_TEST_DATABASE_URL")
    if url:
        yield url
        return
    with embedded_postgres() as embedded:
        yield embedded


@pytest.fixture
async def new_database(pg_server_url: str) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Creates empty databases of the test's own; drops them afterwards."""
    async with contextlib.AsyncExitStack() as stack:

        async def create() -> str:
            return await stack.enter_async_context(scratch_database(pg_server_url, "syncer_test"))

        yield create


@pytest.fixture
async def fresh_db(new_database: Callable[[], Awaitable[str]]) -> str:
    """An empty database of its own for one test."""
    return await new_database()


@pytest.fixture
async def db(fresh_db: str) -> str:
    """A database with syncer's migrations applied."""
    async with PgStore.open(fresh_db) as store:
        await store.migrate(desired_setups(Settings()))
    return fresh_db


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    # The custom-field keys the generated groups carry are enabled, as in an app's console.
    emu = Emulator(EmulatorConfig(enabled_custom_keys=frozenset(CUSTOM_KEYS)))
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
