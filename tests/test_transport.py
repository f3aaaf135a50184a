"""syncer.transport, every vendor call's HTTP (one aiohttp session), against real servers on
loopback: scripted asyncio servers for exact bytes, TLS with a test CA, and the proxy settings
read from the environment (syncer.network)."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import trustme

from syncer.errors import ConfigError
from syncer.network import NetworkSettings, Proxy, network_from_env, parse_proxy
from syncer.secret import Secret
from syncer.transport import USER_AGENT, NoAnswer, ProxyRefused, TlsUnverified, Transport, _query_pair

from .httpproxy import HttpProxy

Handler = Callable[[bytes, bytes, asyncio.StreamWriter], Awaitable[bool]]
DIRECT = NetworkSettings()


class Server:
    """Reads each request whole (head and Content-Length body) and lets ``handler`` answer it
    with raw bytes; ``handler`` returns False to close the connection afterwards."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                if not await self.handler(head, body, writer):
                    return
        finally:
            writer.close()


@asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[Server, str]]:
    server = Server(handler)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls)
    port = listener.sockets[0].getsockname()[1]
    host = "localhost" if tls else "127.0.0.1"
    try:
        yield server, f"{'https' if tls else 'http'}://{host}:{port}/v4/svc/cmd"
    finally:
        listener.close()
        await listener.wait_closed()


def replying(data: bytes, *, keep_open: bool) -> Handler:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        await writer.drain()
        return keep_open

    return handler


def answer(body: bytes, *extra: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def ok(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(answer(b'{"echo": ' + body + b"}", "Date: Tue, 01 Dec 2026 18:00:00 GMT"))
    await writer.drain()
    return True


def headers_of(head: bytes) -> dict[str, str]:
    lines = head.decode().split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}


async def test_a_post_carries_body_query_and_headers_once_sent_over_one_kept_alive_connection() -> None:
    sent: list[int] = []
    async with serving(ok) as (server, url), Transport(DIRECT, limit=4, timeout_s=5) as http:
        params = {"usersig": "eJw+/=*-_x", "random": "42"}
        for i in range(3):
            got = await http.post(
                url, b"[%d]" % i, params=params, headers={"X-Test": "yes"}, on_sent=lambda: sent.append(1)
            )
            assert (got.status, got.body) == (200, b'{"echo": [%d]}' % i)
            assert got.date == "Tue, 01 Dec 2026 18:00:00 GMT"
    assert server.connections == 1  # one connection, kept alive for all three
    assert sent == [1, 1, 1]  # each call said once that it left
    head, body = server.requests[0]
    method, target, version = head.decode().split("\r\n")[0].split(" ")
    assert (method, version, body) == ("POST", "HTTP/1.1", b"[0]")
    assert urlsplit(target).path == "/v4/svc/cmd"
    assert {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()} == params  # encoded and decoded intact
    headers = headers_of(head)
    assert headers["x-test"] == "yes" and headers["content-length"] == "3"
    assert headers["content-type"] == "application/json" and headers["user-agent"] == USER_AGENT
    assert "accept-encoding" not in headers and "cookie" not in headers  # nothing compressed asked for


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", id="closed-mid-body"),
        pytest.param(b"SMTP ready\r\n\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", id="malformed-header"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", id="bad-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="bad-chunk"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\n{}", id="unasked-encoding"),
        pytest.param(answer(gzip.compress(b"{}"), "Content-Encoding: gzip"), id="unasked-gzip"),
        pytest.param(b"", id="closed-before-answer"),
    ],
)
async def test_nonsense_a_cut_or_an_unasked_for_answer_is_no_answer(reply: bytes) -> None:
    async with serving(replying(reply, keep_open=False)) as (_, url), Transport(DIRECT, limit=2, timeout_s=5) as http:
        with pytest.raises(NoAnswer):
            await http.post(url, b"{}")


async def test_a_chunked_answer_is_joined() -> None:
    async def chunked(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b'{"a": ', b'"bc"', b"}"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async with serving(chunked) as (server, url), Transport(DIRECT, limit=2, timeout_s=5) as http:
        assert (await http.post(url, b"{}")).body == (await http.post(url, b"{}")).body == b'{"a": "bc"}'
    assert server.connections == 1


async def test_a_slow_answer_is_no_answer_and_the_next_call_gets_a_fresh_connection() -> None:
    calls = 0
    timed_out = asyncio.Event()

    async def slow_first(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            await timed_out.wait()  # answers only once the client has given up on it
        writer.write(answer(b"{}"))
        await writer.drain()
        return True

    async with serving(slow_first) as (server, url), Transport(DIRECT, limit=2, timeout_s=0.3) as http:
        with pytest.raises(NoAnswer, match="timed out"):
            await http.post(url, b"{}")
        timed_out.set()
        assert (await http.post(url, b"{}")).status == 200
    assert server.connections == 2


async def test_connecting_nowhere_or_to_a_url_of_another_scheme_is_no_answer() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    async with Transport(DIRECT, limit=2, timeout_s=5) as http:
        with pytest.raises(NoAnswer, match=f"cannot connect to 127.0.0.1:{port}"):
            await http.post(f"http://127.0.0.1:{port}/x", b"{}", params={"usersig": "secret-sig"})
        with pytest.raises(NoAnswer, match="only http"):
            await http.post("ftp://example.com/x", b"{}")


async def test_an_answer_over_the_cap_is_refused_as_announced_or_as_it_streams_in() -> None:
    announced = b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n" + b"x" * 1000
    streamed = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"100000\r\n" + b"x" * (1 << 20) + b"\r\n"

    async def endless(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(streamed.split(b"100000")[0])
        for _ in range(8):  # 8 MB in 1 MB chunks, never ending: refused past 4 MB, not at the timeout
            writer.write(b"100000\r\n" + b"x" * (1 << 20) + b"\r\n")
            await writer.drain()
        await asyncio.sleep(60)
        return False

    for handler in (replying(announced, keep_open=True), endless):
        async with serving(handler) as (_, url), Transport(DIRECT, limit=2, timeout_s=30) as http:
            async with asyncio.timeout(10):  # well under the transport's own 30 s
                with pytest.raises(NoAnswer, match="answer too large"):
                    await http.post(url, b"{}")


def tls_pair(*hosts: str) -> tuple[trustme.CA, ssl.SSLContext]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*hosts).configure_cert(server_context)
    return ca, server_context


async def test_a_ca_bundle_is_trusted_and_a_certificate_it_did_not_sign_is_refused(tmp_path: Path) -> None:
    ca, server_context = tls_pair("localhost")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    async with serving(ok, tls=server_context) as (server, url):
        async with Transport(NetworkSettings(ca_file=str(bundle)), limit=2, timeout_s=5) as http:
            assert (await http.post(url, b"1")).body == b'{"echo": 1}'
            assert (await http.post(url, b"2")).body == b'{"echo": 2}'
        assert server.connections == 1
        # The system's trust store does not know this test CA.
        async with Transport(DIRECT, limit=2, timeout_s=5) as stranger:
            with pytest.raises(TlsUnverified, match="unable to get local issuer certificate"):
                await stranger.post(url, b"1")


def test_a_ca_bundle_that_is_missing_or_holds_no_certificate_is_a_setting_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"SSL_CERT_FILE=.*no such file"):
        NetworkSettings(ca_file=str(tmp_path / "absent.pem")).ssl_context()
    (tmp_path / "empty.pem").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"SSL_CERT_FILE=.*(not a PEM|no CA)"):
        NetworkSettings(ca_file=str(tmp_path / "empty.pem")).ssl_context()


def test_proxies_are_read_as_curl_reads_them() -> None:
    network = network_from_env(
        {
            "HTTPS_PROXY": "http://ignored:1",
            "https_proxy": "http://alice:p%40ss@proxy.corp:3128",
            "HTTP_PROXY": "plain.corp:8080",
            "NO_PROXY": "internal.corp,.svc.cluster.local,10.0.0.5",
            "SSL_CERT_FILE": "/etc/ssl/corp.pem",
        }
    )
    assert network.https_proxy == Proxy("http://proxy.corp:3128", "alice", Secret("p@ss"))
    assert network.http_proxy == Proxy("http://plain.corp:8080")
    assert network.ca_file == "/etc/ssl/corp.pem"
    assert "p@ss" not in repr(network) and "p%40ss" not in repr(network)
    assert network.proxy_for("https://adminapisgp.im.qcloud.com/v4/x") == network.https_proxy
    assert network.proxy_for("http://emulator:8080/v4/x") == network.http_proxy
    for bypassed in ("https://internal.corp/x", "https://api.ns.svc.cluster.local/x", "http://10.0.0.5:80/x"):
        assert network.proxy_for(bypassed) is None, bypassed
    assert network_from_env({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}).proxy_for("https://a.b/x") is None
    assert network_from_env({}).proxy_for("https://a.b/x") is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("socks5://user:secret@proxy:1080", "HTTPS_PROXY=socks5://proxy:1080: expected an http:// proxy URL"),
        ("https://user:secret@proxy:443", "HTTPS_PROXY=https://proxy:443: expected an http:// proxy URL"),
        ("http://user:secret@proxy:notaport", "HTTPS_PROXY=http://proxy: expected an http:// proxy URL"),
        ("http://user:secret@/nohost", "expected an http:// proxy URL"),
    ],
)
def test_a_proxy_url_syncer_cannot_use_is_refused_naming_the_variable_not_the_password(text: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_proxy(text, "HTTPS_PROXY")
    assert says in str(raised.value) and "secret" not in str(raised.value)


async def test_calls_go_through_a_proxy_with_credentials_and_a_refused_tunnel_says_so(tmp_path: Path) -> None:
    ca, server_context = tls_pair("localhost")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    proxy = HttpProxy(credentials=("alice", "s3cret-pw"))
    proxy_url = await proxy.start()
    try:
        async with serving(ok, tls=server_context) as (server, url), serving(ok) as (_, plain_url):
            network = NetworkSettings(
                https_proxy=Proxy(proxy_url, "alice", Secret("s3cret-pw")),
                http_proxy=Proxy(proxy_url, "alice", Secret("s3cret-pw")),
                ca_file=str(bundle),
            )
            async with Transport(network, limit=2, timeout_s=5) as http:
                assert (await http.post(url, b"1")).body == b'{"echo": 1}'
                assert (await http.post(url, b"2")).body == b'{"echo": 2}'
                assert (await http.post(plain_url, b"3")).body == b'{"echo": 3}'
            assert [r.method for r in proxy.requests] == ["CONNECT", "POST"]  # one tunnel, kept alive
            assert proxy.requests[0].target == url.split("/")[2]
            assert proxy.requests[1].target.startswith(plain_url)  # absolute form
            assert server.connections == 1

            wrong = Proxy(proxy_url, "alice", Secret("wrong-pw"))
            wrongly = NetworkSettings(https_proxy=wrong, ca_file=str(bundle))
            async with Transport(wrongly, limit=2, timeout_s=5) as refused:
                with pytest.raises(ProxyRefused, match="HTTP 407") as raised:
                    await refused.post(url, b"1")
            assert "wrong-pw" not in str(raised.value) and proxy_url in str(raised.value)
    finally:
        await proxy.stop()


def test_query_pairs_are_spelled_as_urlencode_spells_them() -> None:
    # Plain values skip quoting (a per-call random number, say); everything else is quoted once.
    for name, value in [
        ("random", "4294967295"),
        ("sdkappid", "1400000000"),
        ("usersig", "eJyrVgrxCdYrSy1SslIy0jNQ*+/="),
        ("contenttype", "json"),
        ("a b", "c&d"),
        ("x", "ü²"),
        ("empty", ""),
    ]:
        assert _query_pair(name, value) == urlencode({name: value}), (name, value)


async def test_a_call_says_it_left_only_once_its_tunnel_is_open_not_when_it_was_let_go(tmp_path: Path) -> None:
    # The limiter's slot starts when the request is on the wire: a slow tunnel (or handshake)
    # between the limiter letting the call go and the request leaving must not eat its window.
    ca, server_context = tls_pair("localhost")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    proxy = HttpProxy(tunnel_delay_s=0.3)
    proxy_url = await proxy.start()
    loop = asyncio.get_running_loop()
    sent_at: list[float] = []
    try:
        async with serving(ok, tls=server_context) as (_, url):
            network = NetworkSettings(https_proxy=Proxy(proxy_url), ca_file=str(bundle))
            async with Transport(network, limit=2, timeout_s=5) as http:
                let_go = loop.time()
                await http.post(url, b"1", on_sent=lambda: sent_at.append(loop.time()))
    finally:
        await proxy.stop()
    (opened,) = proxy.tunnels_opened
    assert let_go + 0.3 <= opened <= sent_at[0]
