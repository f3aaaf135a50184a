"""Every vendor call's HTTP: one ``aiohttp.ClientSession`` for many small POSTs to a host or two.

aiohttp brings what a corporate network needs (proxies, CA bundles, TLS, happy eyeballs, the
HTTP corner cases); this module adds what the limiter and the records need on top:

- the moment a request's body is handed to the connection (``on_sent``), which is when the
  limiter's slot starts: a new connection, a proxy's CONNECT or a TLS handshake may have taken
  a while since the limiter let the call go;
- bounded answers: one over ``MAX_BODY_BYTES`` is refused as it is announced or as it streams
  in, and all the answers being read at once hold at most ``MAX_HELD_BYTES`` between them;
- failures sorted into what the client decides on: :class:`NoAnswer` (the outcome is unknown),
  :class:`TlsUnverified` and :class:`ProxyRefused` (settings to fix: no retry can help).

The session is tuned for its one job (bench/RESULTS.md has each tuning's effect): no cookie jar,
no decompression (nothing asks for a compressed answer), the proxy of each URL decided once,
and query strings quoted once per distinct parameter rather than per call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
from aiohttp.payload import BytesPayload
from yarl import URL

from syncer import __version__
from syncer.network import NetworkSettings, Proxy

# Vendor answers are small (Tencent refuses to send one over 1 MB: 10018).
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_HELD_BYTES = 32 * 1024 * 1024
USER_AGENT = f"syncer/{__version__}"


class NoAnswer(Exception):
    """The request got no complete, well-formed answer: whether it reached the server is unknown."""


class TlsUnverified(Exception):
    """The server's certificate does not verify against the trusted CA certificates."""


class ProxyRefused(Exception):
    """The proxy answered the tunnel request with an error of its own (407: its credentials)."""

    def __init__(self, status: int, reason: str, proxy: str) -> None:
        super().__init__(f"the proxy {proxy} refused the connection (HTTP {status} {reason})".rstrip())
        self.status = status


@dataclass(slots=True)  # not frozen: one per call, and a frozen __init__ is dearer
class Answer:
    status: int
    body: bytes
    date: str | None = None  # the answer's Date header, for a clock check


class _StampedBody(BytesPayload):
    """A request body that says when it is handed to the connection: the request's head goes
    out with it in the same write, so this is when the request leaves."""

    def __init__(self, value: bytes, on_sent: Callable[[], None] | None) -> None:
        super().__init__(value, content_type="application/json")
        self._on_sent = on_sent

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        if self._on_sent is not None:
            self._on_sent()
            self._on_sent = None  # once, should aiohttp ever write a body twice
        await super().write_with_length(writer, content_length)


@functools.lru_cache(maxsize=64)
def _quoted_pair(name: str, value: str) -> str:
    # Most parameters repeat call after call (a signature valid for days, an app ID).
    return urlencode({name: value})


def _query_pair(name: str, value: str) -> str:
    if value.isascii() and value.isalnum():
        return f"{_quoted_name(name)}={value}"  # a number, say (a per-call random): nothing to quote
    return _quoted_pair(name, value)


@functools.lru_cache(maxsize=64)
def _quoted_name(name: str) -> str:
    return urlencode({name: ""})[:-1]


@dataclass(frozen=True, slots=True)
class _Route:
    """What is decided once per URL: its proxy, and that it is a URL syncer can send to."""

    proxy: URL | None
    # A tunnel's credentials go with its CONNECT; a plain-http request sent to the proxy in
    # absolute form carries them itself (aiohttp adds proxy_headers to CONNECT only).
    proxy_headers: Mapping[str, str] | None
    request_headers: Mapping[str, str] | None
    shown_proxy: str


class _Held:
    __slots__ = ("bytes",)

    def __init__(self) -> None:
        self.bytes = 0


class Transport:
    """POSTs through one ``aiohttp.ClientSession``.

    ``limit``: connections open at once (the client bounds requests in flight below it).
    ``timeout_s``: the whole exchange, connecting (and a proxy's tunnel) included. Connections
    idle longer than ``idle_timeout_s`` are closed rather than reused, before a server's own
    keep-alive timeout can close one under a request.
    """

    def __init__(self, network: NetworkSettings, *, limit: int, timeout_s: float, idle_timeout_s: float = 15.0) -> None:
        self._network = network
        self._limit = limit
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._idle_timeout_s = idle_timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._routes: dict[str, _Route] = {}
        self._held = _Held()
        self._secrets = tuple(
            text for proxy in (network.http_proxy, network.https_proxy) if proxy for text in proxy.secret_text
        )

    async def __aenter__(self) -> Transport:
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=0,
            keepalive_timeout=self._idle_timeout_s,
            ssl=self._network.ssl_context() or True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),  # no vendor sets cookies that matter
            auto_decompress=False,
            # Not asking for a compressed answer: syncer digests the bytes as sent.
            skip_auto_headers=("Accept-Encoding",),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,  # the environment is read once, into NetworkSettings
            raise_for_status=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def scrub(self, text: str) -> str:
        """``text`` without the proxy's password."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _route(self, url: str) -> _Route:
        route = self._routes.get(url)
        if route is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise NoAnswer(f"cannot send to {url!r}: only http:// and https:// URLs with a host are supported")
            proxy: Proxy | None = self._network.proxy_for(url)
            credentials = None
            if proxy is not None and proxy.login is not None:
                password = proxy.password.reveal() if proxy.password is not None else ""
                credentials = {"Proxy-Authorization": aiohttp.encode_basic_auth(proxy.login, password)}
            tunnel = parts.scheme == "https"
            route = _Route(
                URL(proxy.url) if proxy else None,
                credentials if tunnel else None,
                None if tunnel else credentials,
                proxy.url if proxy else "",
            )
            if len(self._routes) > 1024:  # URLs are per command: this bound is never reached in use
                self._routes.clear()
            self._routes[url] = route
        return route

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> Answer:
        """Send ``body`` (JSON) to ``url`` with ``params`` as its query; answer with the reply.

        Raises :class:`NoAnswer`, :class:`TlsUnverified` or :class:`ProxyRefused`.
        """
        session = self._session
        if session is None:
            raise RuntimeError("Transport used outside 'async with'")
        route = self._route(url)
        if route.request_headers is not None:
            headers = {**route.request_headers, **(headers or {})}
        target = url
        if params:
            target += ("&" if "?" in url else "?") + "&".join(_query_pair(k, v) for k, v in params.items())
        try:
            async with session.post(
                URL(target, encoded=True),
                data=_StampedBody(body, on_sent),
                headers=headers,
                proxy=route.proxy,
                proxy_headers=route.proxy_headers,
            ) as response:
                return Answer(response.status, await self._read(response), response.headers.get("Date"))
        except aiohttp.ClientConnectorCertificateError as exc:
            cert = exc.certificate_error
            reason = getattr(cert, "verify_message", None) or str(cert)
            raise TlsUnverified(reason) from None
        except aiohttp.ClientHttpProxyError as exc:
            raise ProxyRefused(exc.status, exc.message, route.shown_proxy) from None
        except aiohttp.ClientProxyConnectionError as exc:
            raise NoAnswer(self.scrub(f"cannot reach the proxy {route.shown_proxy} ({exc.os_error})")) from None
        except TimeoutError:  # before OSError, of which it is one
            raise NoAnswer("timed out") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise NoAnswer(self.scrub(_describe(exc))) from None

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        encoding = response.headers.get("Content-Encoding", "identity").lower()
        if encoding != "identity":
            raise NoAnswer(f"answer in an encoding syncer did not ask for: {encoding[:40]!r}")
        length = response.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise NoAnswer(f"answer too large ({length} bytes)")
        held = self._held
        if length is not None and length <= 65536:  # small: nothing to account for
            return await response.read()
        holding = 0
        chunks: list[bytes] = []
        try:
            async for chunk in response.content.iter_any():
                holding += len(chunk)
                held.bytes += len(chunk)
                if holding > MAX_BODY_BYTES:
                    raise NoAnswer("answer too large")
                if held.bytes > MAX_HELD_BYTES:
                    raise NoAnswer(f"answers being received hold over {MAX_HELD_BYTES >> 20} MB between them")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            held.bytes -= holding


def _describe(exc: BaseException) -> str:
    """A failure's message without the request's URL (its query holds a signature)."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__}: {exc.status} {exc.message}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or exc.os_error
        return f"{type(exc).__name__}: cannot connect to {exc.host}:{exc.port} ({reason})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
