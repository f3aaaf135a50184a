"""`syncer emulator` in a process of its own, reached over HTTP like the vendor.

The demo, the tests that measure rates and the benchmark use it: an emulator sharing the
worker's event loop would stamp arrivals late by the worker's own CPU work.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from syncer.emulator.nexconn import DEMO_APP_KEY, DEMO_APP_SECRET
from syncer.emulator.server import DEMO_SDKAPPID, DEMO_SECRET_KEY
from syncer.nexconn.settings import NexconnSettings
from syncer.settings import Secret, Settings
from syncer.tencent.seeding import CUSTOM_KEYS
from syncer.tencent.settings import TencentSettings


@dataclass
class RemoteEmulator:
    base_url: str
    process: asyncio.subprocess.Process

    def settings(self, database_url: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": Secret(database_url),
            "tencent": TencentSettings(DEMO_SDKAPPID, Secret(DEMO_SECRET_KEY), base_url=self.base_url),
            "nexconn": NexconnSettings(DEMO_APP_KEY, Secret(DEMO_APP_SECRET), self.base_url, f"{self.base_url}/backup"),
        }
        values.update(overrides)
        return Settings(**values)

    async def post(self, what: str, doc: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.base_url}/_emulator/{what}", json=doc or {}) as resp,
        ):
            return await resp.json()

    async def get(self, what: str) -> Any:
        """One of the emulator's inspection endpoints: groups, stats or log."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.base_url}/_emulator/{what}") as resp:
            return await resp.json()


@contextlib.asynccontextmanager
async def emulator_process(*args: str, custom_keys: Sequence[str] = CUSTOM_KEYS) -> AsyncIterator[RemoteEmulator]:
    """Start `syncer emulator --port 0 ARGS…` with ``custom_keys`` enabled (by default the keys
    the generated groups carry); stop it on exit."""
    keys = ["--custom-keys", ",".join(custom_keys)] if custom_keys else []
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncer", "emulator", "--port", "0", *keys, *args, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        if not line.startswith("emulator listening on "):
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield RemoteEmulator(line.split()[3], process)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
