"""A misbehaving vendor on loopback: it stands in front of the emulator, passes every call on as
it came, and answers some commands itself with whatever bytes a test wants (a write answered
``{}``, a batch read of a shape no documentation shows)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from syncer import jsoncodec
from syncer.emulator.server import Emulator

# What a test answers a command with, given the request's JSON body: the bytes to send back
# (with HTTP 200, or with the status given), or None to pass the call on to the emulator.
Answer = Callable[[Any], bytes | tuple[int, bytes] | None]
# How a test rewrites the emulator's answer to a command: given the request's JSON body and
# the emulator's decoded answer, the bytes to send back instead.
Rewrite = Callable[[Any, Any], bytes]


class FakeVendor:
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self.answers: dict[str, Answer] = {}  # by the request path's last part: "get_group_info", "update"…
        self.rewrites: dict[str, Rewrite] = {}
        self.requests: list[tuple[str, Any]] = []  # (command, body) of every call that came
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def __aenter__(self) -> FakeVendor:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._session = aiohttp.ClientSession(auto_decompress=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        command = request.path.rstrip("/").rsplit("/", 1)[-1]
        body = jsoncodec.loads(raw) if raw else None
        self.requests.append((command, body))
        answer = self.answers.get(command)
        if answer is not None and (forged := answer(body)) is not None:
            status, forged = forged if isinstance(forged, tuple) else (200, forged)
            return web.Response(status=status, body=forged, content_type="application/json")
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.post(
            self._emulator.base_url + request.path_qs, data=raw, headers=headers
        ) as passed_on:
            answered = await passed_on.read()
            if (rewrite := self.rewrites.get(command)) is not None:
                answered = rewrite(body, jsoncodec.loads(answered))
            return web.Response(status=passed_on.status, body=answered, content_type="application/json")

    def sent(self, command: str) -> list[Any]:
        return [body for name, body in self.requests if name == command]


def json_bytes(value: object) -> bytes:
    return jsoncodec.dumps(value)
