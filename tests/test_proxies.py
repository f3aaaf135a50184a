"""Whole runs the way corporate networks make them: through an HTTP proxy on loopback (a CONNECT
tunnel to a TLS emulator, absolute-form requests to the plain-http one), around it for NO_PROXY
hosts, with a CA bundle of the company's own, and what a user sees when any of it is wrong."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from syncer.emulator.server import Emulator, EmulatorConfig
from syncer.network import NetworkSettings, Proxy
from syncer.secret import Secret
from syncer.tencent.seeding import CUSTOM_KEYS

from .helpers import mismatches, seeded, settings_for, sync
from .httpproxy import HttpProxy
from .test_cli import environment, syncer

PASSWORD = "pr0xy-s3cret"


@pytest.fixture
async def proxy() -> AsyncIterator[HttpProxy]:
    running = HttpProxy(credentials=("alice", PASSWORD))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_emulator(ca: trustme.CA) -> AsyncIterator[Emulator]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    emulator = Emulator(EmulatorConfig(enabled_custom_keys=frozenset(CUSTOM_KEYS)))
    await emulator.start(tls=context)
    try:
        yield emulator
    finally:
        await emulator.stop()


def proxy_url(proxy: HttpProxy, password: str = PASSWORD) -> str:
    assert proxy._server is not None
    return f"http://alice:{password}@127.0.0.1:{proxy._server.sockets[0].getsockname()[1]}"


async def test_a_run_converges_through_a_connect_proxy_with_a_ca_bundle_and_never_prints_the_password(
    db: str, tls_emulator: Emulator, proxy: HttpProxy, ca: trustme.CA, tmp_path: Path
) -> None:
    data = await seeded(db, tls_emulator, 60, seed=5)
    env = environment(db, tls_emulator) | {"HTTPS_PROXY": proxy_url(proxy), "SYNCER_LOG_LEVEL": "debug"}

    # The company's CA is not in the system's store yet: the first call says so, and the run
    # stops at once (EX_CONFIG), not after minutes of retries.
    untrusted = await syncer("run", env=env)
    assert untrusted.code == 78, untrusted.err
    assert "TLS certificate does not verify" in untrusted.err and "SSL_CERT_FILE" in untrusted.err
    assert tls_emulator.log == []

    bundle = tmp_path / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    converged = await syncer("run", env=env | {"SSL_CERT_FILE": str(bundle)})
    assert converged.code == 0, converged.err
    assert mismatches(data.desired, tls_emulator) == []
    assert proxy.methods == {"CONNECT"}  # every call went through the tunnel
    assert all(r.authorization and r.authorization.startswith("Basic ") for r in proxy.requests)

    wrong = await syncer("run", env=env | {"SSL_CERT_FILE": str(bundle), "HTTPS_PROXY": proxy_url(proxy, "nope")})
    assert wrong.code == 78, wrong.err
    assert "HTTP 407" in wrong.err and "HTTPS_PROXY" in wrong.err
    for result in (untrusted, converged, wrong):
        assert PASSWORD not in result.out + result.err and "nope" not in result.out + result.err


async def test_a_run_reaches_a_plain_http_vendor_through_an_absolute_form_proxy(
    db: str, emulator: Emulator, proxy: HttpProxy
) -> None:
    data = await seeded(db, emulator, 60, seed=6)
    through = Proxy(proxy_url(proxy).replace(f"alice:{PASSWORD}@", ""), "alice", Secret(PASSWORD))
    report = await sync(settings_for(db, emulator, network=NetworkSettings(http_proxy=through)))
    assert report.troubled == 0 and mismatches(data.desired, emulator) == []
    assert proxy.methods == {"POST"} and all(r.target.startswith(emulator.base_url) for r in proxy.requests)
    assert len(proxy.requests) == len(emulator.log)


async def test_no_proxy_hosts_bypass_the_proxy(db: str, emulator: Emulator, proxy: HttpProxy) -> None:
    data = await seeded(db, emulator, 60, seed=7)
    through = Proxy(proxy_url(proxy).replace(f"alice:{PASSWORD}@", ""), "alice", Secret(PASSWORD))
    network = NetworkSettings(http_proxy=through, https_proxy=through, no_proxy="localhost,127.0.0.1")
    report = await sync(settings_for(db, emulator, network=network))
    assert report.troubled == 0 and mismatches(data.desired, emulator) == []
    assert proxy.requests == [] and emulator.log != []


async def test_a_proxy_that_is_not_there_names_it_without_its_password(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 10, seed=8)
    closed = HttpProxy()
    await closed.start()
    url = proxy_url(closed, "hunter2")
    await closed.stop()  # bound a moment ago, listening no more: connections are refused
    result = await syncer("run", env=environment(db, emulator) | {"HTTP_PROXY": url, "SYNCER_LOG_LEVEL": "debug"})
    assert result.code == 1, result.err  # the network may come back: a retry later may succeed
    assert "cannot reach the proxy http://127.0.0.1:" in result.err and "hunter2" not in result.out + result.err
    assert emulator.log == []
