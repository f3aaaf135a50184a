"""A small HTTP forward proxy on loopback, as corporate networks run them: CONNECT tunnels for
https:// targets, absolute-form requests forwarded for http:// ones, and Basic credentials
required when given. It records what it was asked, so a test can say a call went through it."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .proxy import splice


@dataclass
class ProxyRequest:
    method: str
    target: str
    authorization: str | None


@dataclass
class HttpProxy:
    credentials: tuple[str, str] | None = None
    # How long a tunnel takes to open (a slow proxy, a far vendor); when each one opened.
    tunnel_delay_s: float = 0.0
    tunnels_opened: list[float] = field(default_factory=list)
    requests: list[ProxyRequest] = field(default_factory=list)
    refused: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> str:
        """Listen on loopback; the proxy's URL (without the credentials)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def url_with_credentials(self, url: str, login: str, password: str) -> str:
        return url.replace("http://", f"http://{login}:{password}@")

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def methods(self) -> set[str]:
        return {r.method for r in self.requests}

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return headers.get("proxy-authorization") == f"Basic {expected}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
                self.requests.append(ProxyRequest(method, target, headers.get("proxy-authorization")))
                if not self._authorized(headers):
                    self.refused += 1
                    writer.write(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                        b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
                    )
                    await writer.drain()
                    continue
                if method == "CONNECT":
                    await self._tunnel(target, reader, writer)
                    return
                if not await self._forward(method, target, headers, lines, reader, writer):
                    return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _tunnel(self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        self._writers.add(up_writer)
        await asyncio.sleep(self.tunnel_delay_s)
        self.tunnels_opened.append(asyncio.get_running_loop().time())
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        await splice(reader, writer, up_reader, up_writer)
        self._writers.discard(up_writer)

    async def _forward(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        lines: list[str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """One absolute-form request, sent on to its origin over a connection of its own."""
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return False
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        kept = [line for line in lines if not line.lower().startswith(("proxy-", "connection:"))]
        up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        try:
            up_writer.write(
                "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""]).encode("latin-1") + body
            )
            head = await up_reader.readuntil(b"\r\n\r\n")
            answer_headers = [h for h in head[:-4].split(b"\r\n") if not h.lower().startswith(b"connection:")]
            length = next(
                (int(h.split(b":")[1]) for h in answer_headers if h.lower().startswith(b"content-length:")), 0
            )
            rest = await up_reader.readexactly(length)
        finally:
            up_writer.close()
        writer.write(b"\r\n".join(answer_headers) + b"\r\n\r\n" + rest)
        await writer.drain()
        return True
