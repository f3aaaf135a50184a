"""How vendor calls leave the machine: proxies and trusted CA certificates, from the environment
variables curl, requests and aiohttp read, checked once at the edge.

- ``HTTPS_PROXY`` (for https:// vendor URLs) and ``HTTP_PROXY`` (for http:// ones), lowercase
  first as curl reads them: an ``http://[user:password@]host[:port]`` proxy. A proxy of another
  scheme (socks5://, https://) is refused rather than ignored: calls would leave some other way.
- ``NO_PROXY``: hosts, domain suffixes (``.example.com``), ``host:port`` or ``*`` that bypass it.
- ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``: the CA certificates to trust instead of the system's, as
  OpenSSL reads them; a file that is missing or holds no certificate is refused, not skipped.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from syncer.errors import ConfigError
from syncer.secret import Secret


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy: its URL without credentials, and the credentials apart (never printed)."""

    url: str
    login: str | None = None
    password: Secret | None = None

    @property
    def secret_text(self) -> tuple[str, ...]:
        """What must never appear in a message: the password, as given and as sent."""
        if self.password is None or not self.password.reveal():
            return ()
        return (self.password.reveal(),)


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    http_proxy: Proxy | None = None
    https_proxy: Proxy | None = None
    no_proxy: str = ""
    ca_file: str | None = None
    ca_dir: str | None = None

    def proxy_for(self, url: str) -> Proxy | None:
        """The proxy a call to ``url`` goes through, or None for a direct connection."""
        parts = urlsplit(url)
        proxy = self.https_proxy if parts.scheme == "https" else self.http_proxy
        if proxy is None or not parts.hostname:
            return None
        if self.no_proxy:
            host = parts.netloc.rpartition("@")[2]
            # urllib's reading of NO_PROXY, which curl and requests share for every form used.
            if urllib.request.proxy_bypass_environment(host, {"no": self.no_proxy}):  # type: ignore[attr-defined]
                return None
        return proxy

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying TLS context of SSL_CERT_FILE/SSL_CERT_DIR's CA certificates; None: the
        system's (aiohttp's verifying default, built when it is imported)."""
        if self.ca_file is None and self.ca_dir is None:
            return None
        setting = "SSL_CERT_FILE" if self.ca_file is not None else "SSL_CERT_DIR"
        path = self.ca_file if self.ca_file is not None else self.ca_dir
        try:
            context = ssl.create_default_context(cafile=self.ca_file, capath=self.ca_dir)
        except FileNotFoundError:
            raise ConfigError(f"{setting}={path}: no such file or directory") from None
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigError(f"{setting}={path}: not a PEM file of CA certificates ({reason})") from None
        if not context.get_ca_certs() and self.ca_file is not None:
            raise ConfigError(f"SSL_CERT_FILE={path}: holds no CA certificate")
        return context


def _env(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    for variable in (name.lower(), name.upper()):
        value = env.get(variable, "").strip()
        if value:
            return variable, value
    return None


def parse_proxy(text: str, variable: str) -> Proxy:
    """``http://user:password@host:port`` (the scheme may be left out) as a :class:`Proxy`."""
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme.lower() != "http" or not parts.hostname or port == -1 or parts.path not in ("", "/"):
        shown = f"{parts.scheme}://{parts.hostname or ''}" + (f":{port}" if port and port > 0 else "")
        raise ConfigError(
            f"{variable}={shown}: expected an http:// proxy URL (http://[user:password@]host[:port]); "
            "syncer reaches https:// vendors through it with CONNECT"
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    url = f"http://{host}" + (f":{port}" if port else "")
    if parts.username is None:
        return Proxy(url)
    password = unquote(parts.password) if parts.password is not None else ""
    return Proxy(url, unquote(parts.username), Secret(password) if password else None)


def network_from_env(env: Mapping[str, str]) -> NetworkSettings:
    proxies: dict[str, Proxy | None] = {}
    for name in ("https_proxy", "http_proxy"):
        found = _env(env, name)
        proxies[name] = parse_proxy(found[1], found[0]) if found else None
    no_proxy = _env(env, "no_proxy")
    return NetworkSettings(
        http_proxy=proxies["http_proxy"],
        https_proxy=proxies["https_proxy"],
        no_proxy=no_proxy[1] if no_proxy else "",
        ca_file=env.get("SSL_CERT_FILE") or None,
        ca_dir=env.get("SSL_CERT_DIR") or None,
    )
