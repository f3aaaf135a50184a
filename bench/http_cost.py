"""CPU per vendor call of the HTTP layer alone, side by side: syncer's transport and aiohttp's
client with each tuning added in turn, against a small server in a process of its own.

    .venv/bin/python bench/http_cost.py [--calls 20000] [--repeat 5] [--body-kb 8]

Each variant sends ``--calls`` POSTs of a typical request (a signed query, a JSON body) with 16
in flight over kept-alive connections on uvloop, and reads each answer (``--body-kb`` of JSON,
about a 50-group batch read's answer). What is reported is the client process's CPU time per
call (the median of ``--repeat`` passes, each after a warm-up), and what that is as a share of a
core at the vendor's full pace on the three commands a run uses most (600 calls/s).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import uvloop
from yarl import URL

from syncer.network import NetworkSettings
from syncer.transport import Transport, _StampedBody

IN_FLIGHT = 16
FULL_PACE = 600  # calls/s: 200 on each of three commands
PARAMS = {
    "sdkappid": "1400000000",
    "identifier": "administrator",
    "usersig": "eJwtzEELgjAYxvHvsms" + "x" * 300 + "*",
    "random": "0",
    "contenttype": "json",
}
BODY = b'{"GroupIdList": [' + b",".join(b'"@TGS#%d"' % i for i in range(50)) + b"]}"

Post = Callable[[str, int], Awaitable[bytes]]


def serve(port_out: multiprocessing.Queue[int], body_kb: int) -> None:
    answer_body = b'{"ActionStatus":"OK","ErrorCode":0,"pad":"' + b"x" * (body_kb * 1024) + b'"}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(answer_body)
    answer = head + answer_body

    class Handler(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                length = 0
                for line in self.buffer[:end].split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length :]
                self.transport.write(answer)  # type: ignore[attr-defined]

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Handler, "127.0.0.1", 0)
        port_out.put(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    uvloop.run(main())


async def drive(post: Post, url: str, calls: int) -> float:
    queue = iter(range(calls))

    async def worker() -> None:
        for i in queue:
            await post(url, i)

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return (time.process_time() - start) / calls


def params_for(i: int) -> dict[str, str]:
    return PARAMS | {"random": str(i)}


async def transport_variant(url: str, calls: int, repeat: int) -> list[float]:
    sent = 0

    def on_sent() -> None:
        nonlocal sent
        sent += 1

    async with Transport(NetworkSettings(), limit=IN_FLIGHT * 2, timeout_s=5) as http:

        async def post(target: str, i: int) -> bytes:
            return (await http.post(target, BODY, params=params_for(i), headers=None, on_sent=on_sent)).body

        return [await drive(post, url, calls) for _ in range(repeat + 1)][1:]


async def aiohttp_variant(url: str, calls: int, repeat: int, tuning: int) -> list[float]:
    """``tuning``: how many of the tunings are on, in the order the table lists them."""
    options: dict[str, object] = {}
    if tuning >= 1:
        options["cookie_jar"] = aiohttp.DummyCookieJar()
    if tuning >= 2:
        options |= {"auto_decompress": False, "skip_auto_headers": ("Accept-Encoding",)}
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT * 2 if tuning >= 3 else 100)
    trace = aiohttp.TraceConfig()
    stamped: list[int] = []

    async def on_chunk(session: object, ctx: object, params: object) -> None:
        stamped.append(1)

    trace.on_request_chunk_sent.append(on_chunk)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[trace], **options) as session:  # type: ignore[arg-type]

        async def post(target: str, i: int) -> bytes:
            if tuning >= 4:
                query = "&".join(f"{k}={v}" for k, v in params_for(i).items())
                async with session.post(
                    URL(f"{target}?{query}", encoded=True), data=_StampedBody(BODY, lambda: stamped.append(1))
                ) as response:
                    return await response.read()
            async with session.post(
                target, params=params_for(i), data=BODY, headers={"Content-Type": "application/json"}
            ) as response:
                return await response.read()

        return [await drive(post, url, calls) for _ in range(repeat + 1)][1:]


async def legacy_variant(url: str, calls: int, repeat: int) -> list[float] | None:
    """syncer's own HTTP/1.1 client, where this checkout still has it (before issue 14)."""
    try:
        legacy: Any = importlib.import_module("syncer.http")
    except ImportError:
        return None
    async with legacy.HttpClient(limit=IN_FLIGHT * 2, timeout_s=5) as client:

        async def post(target: str, i: int) -> bytes:
            answer = await client.post(
                target, BODY, params=params_for(i), headers={"Content-Type": "application/json"}, on_sent=lambda: None
            )
            return bytes(answer.body)

        return [await drive(post, url, calls) for _ in range(repeat + 1)][1:]


TUNINGS = [
    "aiohttp defaults (trace config for the send time)",
    "+ no cookie jar",
    "+ no decompression, no Accept-Encoding",
    "+ connector limit sized to the calls in flight",
    "+ query quoted once, body stamps its send (no trace)",
]


async def run_all(url: str, calls: int, repeat: int) -> list[tuple[str, list[float]]]:
    rows: list[tuple[str, list[float]]] = []
    legacy = await legacy_variant(url, calls, repeat)
    if legacy is not None:
        rows.append(("syncer/http.py (before issue 14)", legacy))
    for tuning, name in enumerate(TUNINGS):
        rows.append((name, await aiohttp_variant(url, calls, repeat, tuning)))
    rows.append(("syncer/transport.py (what runs)", await transport_variant(url, calls, repeat)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--body-kb", type=int, default=8)
    args = parser.parse_args()
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports, args.body_kb), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{ports.get(timeout=10)}/v4/group_open_http_svc/get_group_info"
        rows = uvloop.run(run_all(url, args.calls, args.repeat))
    finally:
        server.terminate()
    print(f"{args.calls} calls x {args.repeat} passes, {IN_FLIGHT} in flight, answers of {args.body_kb} KB, uvloop")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}\n")
    print("| HTTP layer | CPU µs per call (median) | each pass | core at 600 calls/s |")
    print("| --- | --- | --- | --- |")
    for name, passes in rows:
        median = statistics.median(passes) * 1e6
        each = ", ".join(f"{p * 1e6:.0f}" for p in passes)
        print(f"| {name} | {median:.0f} | {each} | {median * FULL_PACE / 1e4:.1f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
