"""A small HTTP/1.1 client for the vendors' APIs: POSTs over kept-alive connections.

Why not aiohttp's client: a no-op run over a million groups makes 20,000 reads, and the worker's
own CPU per call is what decides whether the vendor's limit or the worker is the bottleneck.
aiohttp's client spent several times the CPU of this one per call, and its import (TLS
contexts built eagerly) slowed every start (bench/RESULTS.md, "Why the code is as it is").
The vendors' APIs need little: POST with a body, HTTP/1.1 keep-alive, TLS, and answers sized
by Content-Length, chunked, or read until the connection closes (gzip or deflate decoded,
though syncer never asks for them).

Not supported, because no vendor call needs it: redirects, proxies, HTTP/2, pipelining.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlencode, urlsplit

MAX_HEAD_BYTES = 64 * 1024
# Vendor answers are small (Tencent refuses to send one over 1 MB: 10018). A bigger one is
# refused as it streams in, and so is one that would inflate past it; and all the answers being
# received at once hold at most MAX_HELD_BYTES between them, so that many oversized answers at
# once cannot take the worker's memory with them either.
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_HELD_BYTES = 32 * 1024 * 1024


class _Held:
    """The bytes every connection of one client holds of answers not yet complete."""

    __slots__ = ("bytes",)

    def __init__(self) -> None:
        self.bytes = 0


USER_AGENT = "syncer"


class NoAnswer(Exception):
    """The request got no complete, well-formed answer: whether it reached the server is unknown."""


@dataclass(slots=True)  # not frozen: one per call, and a frozen __init__ is dearer
class Answer:
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    host_header: str
    path: str  # the URL's path and query, as sent

    @property
    def key(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def _origin(url: str) -> _Origin:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NoAnswer(f"cannot send to {url!r}: only http:// and https:// URLs with a host are supported")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise NoAnswer(f"cannot send to {url!r}: {exc}") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Origin(parts.scheme, parts.hostname, port, parts.netloc.rpartition("@")[2], path)


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection, one exchange at a time: a request out, its answer parsed."""

    def __init__(self, held: _Held) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._held = held
        self._holding = 0  # this connection's share of ``held``
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Answer] | None = None
        self._reset()

    def _reset(self) -> None:
        self._head_done = False
        self._status = 0
        self._keep_alive = True
        self._length: int | None = None
        self._chunked = False
        self._until_close = False
        self._encoding = ""
        self._body = bytearray()
        self._in_trailers = False

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, though they behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted
            return
        self._buffer += data
        try:
            self._parse()
            self._hold(len(self._buffer) + len(self._body))
        except NoAnswer as exc:
            self._fail(exc)

    def _hold(self, size: int) -> None:
        """Account for ``size`` bytes held now; refuse the answer past the client's budget."""
        held = self._held
        held.bytes += size - self._holding
        self._holding = size
        if size and held.bytes > MAX_HELD_BYTES:
            raise NoAnswer(f"answers being received hold over {MAX_HELD_BYTES >> 20} MB between them")

    def eof_received(self) -> bool:
        self._ended()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ended()

    # -- one exchange --------------------------------------------------------------------------

    async def exchange(self, request: bytes, on_sent: Callable[[], None] | None, deadline: float) -> Answer:
        """Send ``request`` and wait for its answer until ``deadline`` (the loop's clock): then
        :class:`TimeoutError`, and the connection is closed."""
        assert self.transport is not None
        if self.closed:
            raise NoAnswer("the connection closed before the request was sent")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Answer] = loop.create_future()
        self._waiter = waiter
        self._reset()
        self.transport.write(request)
        if on_sent is not None:
            on_sent()
        # One timer on the answer: cheaper than asyncio.timeout() around the exchange.
        timer = loop.call_at(deadline, self._time_out)
        try:
            return await waiter
        finally:
            timer.cancel()

    def _time_out(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(TimeoutError())
        self.close()

    @property
    def reusable(self) -> bool:
        return not self.closed and self._keep_alive and not self._buffer

    def close(self) -> None:
        self.closed = True
        self._held.bytes -= self._holding
        self._holding = 0
        self._buffer = bytearray()
        self._body = bytearray()
        if self.transport is not None:
            self.transport.close()

    def _ended(self) -> None:
        if self._waiter is None or self._waiter.done():
            return
        if self._head_done and self._until_close:
            try:
                self._finish(bytes(self._buffer))
            except NoAnswer as exc:
                self._fail(exc)
        else:
            self._fail(NoAnswer("the connection closed before the answer was complete"))

    def _fail(self, exc: NoAnswer) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    def _finish(self, body: bytes) -> None:
        if self._encoding in ("gzip", "x-gzip"):
            body = _inflate(body, 16 + zlib.MAX_WBITS)
        elif self._encoding == "deflate":
            body = _inflate(body, zlib.MAX_WBITS)
        elif self._encoding not in ("", "identity"):
            raise NoAnswer(f"answer in an encoding this client does not decode: {self._encoding!r}")
        self._body = bytearray()
        self._hold(len(self._buffer))
        assert self._waiter is not None
        self._waiter.set_result(Answer(self._status, body))
        if not self._keep_alive:
            self.close()

    # -- parsing -------------------------------------------------------------------------------

    def _parse(self) -> None:
        while not self._head_done:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise NoAnswer("answer head too large")
                return
            head = bytes(self._buffer[:end]).decode("latin-1")
            del self._buffer[: end + 4]
            self._read_head(head)
        if self._length is not None:
            buffer, length = self._buffer, self._length
            if len(buffer) >= length:
                with memoryview(buffer) as view:
                    body = bytes(view[:length])  # one copy of a body that may be large
                del buffer[:length]
                self._finish(body)
        elif self._chunked:
            self._read_chunks()
        elif len(self._buffer) > MAX_BODY_BYTES:
            raise NoAnswer("answer too large")

    def _read_head(self, head: str) -> None:
        status_line, *lines = head.split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise NoAnswer(f"not an HTTP/1.x answer: {status_line[:80]!r}")
        status = int(code)
        if 100 <= status < 200:
            return  # informational (100 Continue): the real answer follows
        headers: dict[str, str] = {}
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon:
                raise NoAnswer(f"malformed answer header: {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        self._keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        self._status = status
        self._encoding = headers.get("content-encoding", "").lower()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit() or int(length) > MAX_BODY_BYTES:
                raise NoAnswer(f"unusable Content-Length: {length[:40]!r}")
            self._length = int(length)
        elif status in (204, 304):
            self._length = 0
        else:
            self._until_close = True
            self._keep_alive = False
        self._head_done = True

    def _read_chunks(self) -> None:
        buffer = self._buffer
        while not self._in_trailers:
            if not self._read_chunk(buffer):
                return  # the rest has not come yet
        # After the last chunk: optional trailer lines, then an empty line.
        if buffer.startswith(b"\r\n"):
            del buffer[:2]
        else:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            del buffer[: end + 4]
        self._finish(bytes(self._body))

    def _read_chunk(self, buffer: bytearray) -> bool:
        """Take one whole chunk off ``buffer``, if it has come; False if not yet."""
        line_end = buffer.find(b"\r\n")
        if line_end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise NoAnswer("malformed chunk size")
            return False
        size_text = bytes(buffer[:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise NoAnswer(f"malformed chunk size: {size_text[:20]!r}") from None
        if size > MAX_BODY_BYTES - len(self._body):
            raise NoAnswer("answer too large")  # before its bytes are held, not after
        if size == 0:
            del buffer[: line_end + 2]
            self._in_trailers = True
            return True
        start = line_end + 2
        if len(buffer) < start + size + 2:
            return False
        if buffer[start + size : start + size + 2] != b"\r\n":
            raise NoAnswer("malformed chunk")
        self._body += buffer[start : start + size]
        del buffer[: start + size + 2]
        return True


def _query_pair(name: str, value: str) -> str:
    if value.isascii() and value.isalnum():
        return f"{_quoted_name(name)}={value}"  # a number, say (a per-call random): nothing to quote
    return _quoted_pair(name, value)


@functools.lru_cache(maxsize=64)
def _quoted_pair(name: str, value: str) -> str:
    # Most parameters repeat call after call (a signature valid for days, an app ID): quoting
    # a long signature character by character was the dearest part of building a request.
    return urlencode({name: value})


@functools.lru_cache(maxsize=64)
def _quoted_name(name: str) -> str:
    return urlencode({name: ""})[:-1]


def _inflate(body: bytes, wbits: int) -> bytes:
    try:
        return _bounded_inflate(body, wbits)
    except zlib.error:
        if wbits == zlib.MAX_WBITS:
            try:
                return _bounded_inflate(body, -zlib.MAX_WBITS)  # raw deflate, as some servers send
            except zlib.error:
                pass
        raise NoAnswer("answer body does not decompress") from None


def _bounded_inflate(body: bytes, wbits: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(body, MAX_BODY_BYTES + 1)
    if len(out) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise NoAnswer("answer too large once decompressed")
    return out + inflater.flush()


class HttpClient:
    """POSTs to a few origins, each over a pool of kept-alive connections.

    ``limit``: requests in flight at once (each holds its own connection, so idle connections
    never outnumber it). ``timeout_s``: the whole exchange, connecting included. Connections
    idle longer than ``idle_timeout_s`` are closed rather than reused, before a server's own
    keep-alive timeout can close one under a request.
    """

    def __init__(
        self,
        *,
        limit: int,
        timeout_s: float,
        idle_timeout_s: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock  # for how long a connection has been idle
        self._slots = asyncio.Semaphore(limit)
        self._timeout_s = timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._ssl_context = ssl_context
        self._held = _Held()
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._all: set[_Connection] = set()
        self._origins: dict[str, _Origin] = {}

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> Answer:
        """Send ``body`` to ``url`` (with ``params`` as its query) and answer with the reply.

        ``on_sent``: called the moment the request is handed to the connection. Raises
        :class:`NoAnswer` or :class:`TimeoutError` (or :class:`OSError` on connecting).
        """
        origin = self._origins.get(url)
        if origin is None:
            origin = self._origins[url] = _origin(url)
            if len(self._origins) > 1024:  # URLs are per command: this bound is never reached in use
                self._origins = {url: origin}
        target = origin.path
        if params:
            query = "&".join(_query_pair(name, value) for name, value in params.items())
            target += ("&" if "?" in target else "?") + query
        lines = [f"POST {target} HTTP/1.1", f"Host: {origin.host_header}", f"User-Agent: {USER_AGENT}"]
        if headers:
            lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        request = "\r\n".join(lines).encode("latin-1") + body
        async with self._slots:
            # The timeout bounds the whole exchange, connecting included.
            deadline = asyncio.get_running_loop().time() + self._timeout_s
            conn = self._idle_connection(origin)
            if conn is None:
                async with asyncio.timeout_at(deadline):
                    conn = await self._connect(origin)
            try:
                answer = await conn.exchange(request, on_sent, deadline)
            except BaseException:
                conn.close()
                self._all.discard(conn)
                raise
            self._release(origin, conn)
            return answer

    def _idle_connection(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin.key)
        now = self._clock()
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to be closed under us
            if conn.closed or now - conn.idle_since > self._idle_timeout_s:
                conn.close()
                self._all.discard(conn)
                continue
            return conn
        return None

    async def _connect(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = None
        if origin.scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context()
            tls = self._ssl_context
        _, conn = await loop.create_connection(
            lambda: _Connection(self._held),
            origin.host,
            origin.port,
            ssl=tls,
            server_hostname=origin.host if tls else None,
        )
        self._all.add(conn)
        return conn

    def _release(self, origin: _Origin, conn: _Connection) -> None:
        if conn.reusable:
            conn.idle_since = self._clock()
            self._idle.setdefault(origin.key, deque()).append(conn)
        else:
            conn.close()
            self._all.discard(conn)

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for conn in self._all:
            conn.close()
        self._all.clear()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports finish closing
