"""The emulator's HTTP server: what every vendor's side shares (the call log, the limits, the
injected network faults, the seeded RNG, the lifecycle and the ``/_emulator/*`` endpoints that
expose state and the log to tests and tools). Each vendor's API is a side of its own, laid out
alike: ``tencent.py`` and ``nexconn.py``.

It answers as each vendor documents: for Tencent, HTTP 200 with ``ErrorCode`` for every API-level
result (throttling included), only network faults as other statuses. Faults come from a seeded
RNG, so a run is reproducible.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from syncer.emulator.nexconn import DEMO_APP_KEY, DEMO_APP_SECRET, NexconnApi
from syncer.emulator.state import GROUP_TYPES, EmuGroup, SlidingWindow, max_in_window
from syncer.emulator.tencent import DEMO_SDKAPPID, DEMO_SECRET_KEY, TencentApi
from syncer.nexconn.api import COMMAND_PATHS as NEXCONN_COMMAND_PATHS

NEXCONN_COMMANDS = frozenset(NEXCONN_COMMAND_PATHS)


@dataclass
class EmulatorConfig:
    sdkappid: int = DEMO_SDKAPPID
    secret_key: str = DEMO_SECRET_KEY
    admins: frozenset[str] = frozenset({"administrator"})
    rate_limit: int = 200  # calls per sliding second, per command
    rate_limit_overrides: dict[str, int] = field(default_factory=dict)
    attr_writes_per_group: int = 5
    max_answer_bytes: int = 1 << 20
    # Custom-field keys enabled "in the console". The vendor refuses a write naming any other key
    # with 10004 "all defined key is invalid"; so does the emulator, and a read whose filter names
    # one too (the docs are silent on reads: strict). None are enabled until declared.
    enabled_custom_keys: frozenset[str] = frozenset()
    # Commands answered 10026 "command disabled for the app" (an attribute service not enabled).
    disabled_commands: frozenset[str] = frozenset()
    # How far the vendor's clock is from this machine's: its Date headers and signature checks.
    clock_offset_s: float = 0.0
    # Faults, each a probability per call, drawn from a RNG seeded with ``seed``.
    latency_s: float = 0.0
    latency_jitter_s: float = 0.0
    fault_10002: float = 0.0
    fault_502: float = 0.0
    fault_drop: float = 0.0
    fault_throttle: float = 0.0
    fault_slow: float = 0.0
    slow_s: float = 8.0
    slow_commands: frozenset[str] | None = None  # None: any command may be slowed
    seed: int = 0
    # Groups grp-0000000 … grp-(N-1) exist as the generator makes them (in sync with
    # syncer.tencent.seeding.desired_group), created on first use: a million groups without a million
    # objects, for benchmarks.
    synthetic_groups: int = 0
    # Groups that answer a fixed error code to every call naming them (tests, demos).
    group_faults: dict[str, int] = field(default_factory=dict)
    # Nexconn (syncer/emulator/nexconn.py): its credentials, its documented 100 calls/s per
    # call, and a primary host that answers 503 to everything (the backup, at /backup, works).
    nexconn_app_key: str = DEMO_APP_KEY
    nexconn_app_secret: str = DEMO_APP_SECRET
    nexconn_rate_limit: int = 100
    nexconn_primary_down: bool = False


@dataclass(frozen=True, slots=True)
class CallRecord:
    t: float  # event-loop time when the request arrived
    wall: float  # wall-clock time, to compare with other processes
    command: str
    code: int  # vendor ErrorCode, or -HTTP status, or -1 for a dropped connection
    group_ids: tuple[str, ...]
    host: str = "primary"  # Nexconn: "backup" when the call came to the backup host


class Emulator:
    def __init__(self, config: EmulatorConfig | None = None, groups: Iterable[EmuGroup] = ()) -> None:
        self.config = config or EmulatorConfig()
        self.log: list[CallRecord] = []
        self._rng = random.Random(self.config.seed)
        self._windows: dict[str, SlidingWindow] = {}
        self._runner: web.AppRunner | None = None
        self._call_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.arrivals = 0  # requests received, answered or not yet
        self.base_url = ""
        self.tencent = TencentApi(self)
        self.nexconn = NexconnApi(self)
        self.seed(groups)

    @property
    def groups(self) -> dict[str, EmuGroup]:
        """Tencent's groups (``self.tencent.groups``); Nexconn's channels are ``self.nexconn.channels``."""
        return self.tencent.groups

    # -- lifecycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 << 20)
        self.tencent.routes(app)
        self.nexconn.routes(app)
        app.router.add_get("/_emulator/stats", self._admin_stats)
        app.router.add_get("/_emulator/log", self._admin_log)
        app.router.add_post("/_emulator/config", self._admin_config)
        app.router.add_post("/_emulator/reset-log", self._admin_reset_log)
        app.router.add_get("/_emulator/custom-keys", self._admin_custom_keys)
        app.router.add_post("/_emulator/custom-keys", self._admin_custom_keys)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None) -> str:
        """Serve on ``host``:``port`` (0: any free port), over TLS with ``tls``; the base URL."""
        # Stopping does not wait for answers still in their simulated latency.
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=tls)
        await site.start()
        server = site._server
        assert server is not None and getattr(server, "sockets", None)
        bound = server.sockets[0].getsockname()  # type: ignore[attr-defined]
        self.base_url = f"{'https' if tls else 'http'}://{host}:{bound[1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- inspection --------------------------------------------------------------------------

    def seed(self, groups: Iterable[EmuGroup]) -> None:
        for group in groups:
            self.groups[group.group_id] = group

    def calls(self, command: str | None = None) -> list[CallRecord]:
        return [r for r in self.log if command is None or r.command == command]

    async def wait_for_calls(self, count: int) -> None:
        """Return once ``count`` calls have arrived, answered or not (bound it with asyncio.timeout)."""
        if self.arrivals >= count:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._call_waiters.append((count, waiter))
        await waiter

    def _wake_call_waiters(self) -> None:
        for count, waiter in list(self._call_waiters):
            if self.arrivals >= count:
                self._call_waiters.remove((count, waiter))
                if not waiter.done():
                    waiter.set_result(None)

    def max_calls_per_window(self) -> dict[str, int]:
        """For each command, the most requests that arrived in any sliding second."""
        times: dict[str, list[float]] = defaultdict(list)
        for record in self.log:
            times[record.command].append(record.t)
        return {command: max_in_window(ts) for command, ts in times.items()}

    def limit_for(self, command: str) -> int:
        default = self.config.nexconn_rate_limit if command in NEXCONN_COMMANDS else self.config.rate_limit
        return self.config.rate_limit_overrides.get(command, default)

    @property
    def rng(self) -> random.Random:
        return self._rng

    def record(self, now: float, command: str, code: int, group_ids: tuple[str, ...], host: str = "primary") -> None:
        self.log.append(CallRecord(now, time.time(), command, code, group_ids, host))

    # -- what every vendor's calls go through ----------------------------------------------

    async def arrive(self, request: web.Request) -> tuple[float, Any]:
        """Stamp a request's arrival and read its JSON body (None if it is not JSON)."""
        now = asyncio.get_running_loop().time()
        # Let every request that arrived with this one take its arrival time too, before any of
        # them is processed: else each would be stamped after all the work queued ahead of it,
        # and a burst would look spread out (a gateway counts arrivals, not its backlog).
        await asyncio.sleep(0)
        self.arrivals += 1
        self._wake_call_waiters()
        try:
            raw = await request.read()
            return now, json.loads(raw) if raw else None
        except ValueError:
            return now, None

    async def network_faults(
        self, request: web.Request, command: str, record: Callable[[int], None]
    ) -> tuple[web.Response | None, bool]:
        """The network's faults, drawn in a fixed order: a dropped connection (raises), latency,
        a 502 (returned). Answers whether the call's answer is to come too late."""
        cfg, rng = self.config, self._rng
        if cfg.fault_drop and rng.random() < cfg.fault_drop:
            record(-1)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # the connection is gone: nothing is answered
        if cfg.latency_s or cfg.latency_jitter_s:
            await asyncio.sleep(cfg.latency_s + rng.uniform(0, cfg.latency_jitter_s))
        if cfg.fault_502 and rng.random() < cfg.fault_502:
            record(-502)
            return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>"), False
        slow = bool(
            cfg.fault_slow
            and (cfg.slow_commands is None or command in cfg.slow_commands)
            and rng.random() < cfg.fault_slow
        )
        return None, slow

    def window(self, command: str) -> SlidingWindow:
        window = self._windows.get(command)
        if window is None:
            window = self._windows[command] = SlidingWindow(self.limit_for(command))
        window.limit = self.limit_for(command)  # the configuration may change while it serves
        return window

    # -- admin endpoints ---------------------------------------------------------------------

    async def _admin_stats(self, request: web.Request) -> web.Response:
        calls: dict[str, int] = defaultdict(int)
        codes: dict[str, int] = defaultdict(int)
        for record in self.log:
            calls[record.command] += 1
            codes[f"{record.command}:{record.code}"] += 1
        return web.json_response({"calls": calls, "codes": codes, "max_calls_per_window": self.max_calls_per_window()})

    async def _admin_config(self, request: web.Request) -> web.Response:
        """Change limits, latency or faults while serving: {"rate_limit": 5000, "latency_s": 0.02}."""
        changes = await request.json()
        for name, value in changes.items():
            if not hasattr(self.config, name) or name in ("secret_key", "sdkappid", "nexconn_app_secret"):
                return web.json_response({"error": f"unknown setting {name!r}"}, status=400)
            if name == "enabled_custom_keys":
                if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
                    return web.json_response({"error": "enabled_custom_keys is a list of keys"}, status=400)
                value = frozenset(value)
            setattr(self.config, name, value)
        return web.json_response({"ok": True})

    async def _admin_custom_keys(self, request: web.Request) -> web.Response:
        """The custom-field keys enabled "in the console": GET lists them, POST {"keys": [...]}
        enables these (and only these)."""
        if request.method == "POST":
            keys = (await request.json()).get("keys")
            if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
                return web.json_response({"error": 'expected {"keys": ["key", ...]}'}, status=400)
            self.config.enabled_custom_keys = frozenset(keys)
        return web.json_response({"keys": sorted(self.config.enabled_custom_keys)})

    async def _admin_reset_log(self, request: web.Request) -> web.Response:
        self.log.clear()
        return web.json_response({"ok": True})

    async def _admin_log(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "t": r.t,
                    "wall": r.wall,
                    "command": r.command,
                    "code": r.code,
                    "group_ids": list(r.group_ids),
                    "host": r.host,
                }
                for r in self.log
            ]
        )


__all__ = ["DEMO_SDKAPPID", "DEMO_SECRET_KEY", "GROUP_TYPES", "EmuGroup", "Emulator", "EmulatorConfig"]
