"""Nexconn's own settings: the app's key and secret and its hosts, from the environment and flags."""

from __future__ import annotations

from dataclasses import dataclass

from syncer.errors import ConfigError
from syncer.option import Option, secret, text, url
from syncer.secret import Secret, revealed

# Singapore's primary and backup hosts (nexconn-facts.md lists the other regions).
DEFAULT_BASE_URL = "https://api.sg-light-api.com"
DEFAULT_BACKUP_URL = "https://api-b.sg-light-api.com"


@dataclass(frozen=True, slots=True)
class NexconnSettings:
    """One Nexconn app: its App-Key and secret, its host and the backup host of its region."""

    app_key: str | None = None
    app_secret: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    # None: the default region's backup when base_url is the default host, else none (a backup
    # of another region, or of an emulator, must be named); "": none.
    backup_url: str | None = None

    @property
    def backup_host(self) -> str | None:
        if self.backup_url is None:
            return DEFAULT_BACKUP_URL if self.base_url == DEFAULT_BASE_URL else None
        return self.backup_url or None

    def credentials(self) -> tuple[str, str]:
        """The App-Key and its secret; :class:`ConfigError` naming the setting if one is missing."""
        if not self.app_key:
            raise ConfigError("no Nexconn app key: set NEXCONN_APP_KEY or pass --app-key")
        return self.app_key, revealed(self.app_secret, "no Nexconn app secret: set NEXCONN_APP_SECRET")


OPTIONS = (
    Option("nexconn.app_key", "--app-key", "NEXCONN_APP_KEY", text, "Nexconn: the app's App-Key", "vendor", "KEY"),
    Option(
        "nexconn.app_secret",
        None,
        "NEXCONN_APP_SECRET",
        secret(text),
        "Nexconn: the app's secret",
        "vendor",
        secret=True,
    ),
    Option(
        "nexconn.base_url",
        "--nexconn-url",
        "NEXCONN_BASE_URL",
        url("https", "http"),
        "Nexconn: the primary host",
        "vendor",
        metavar="URL",
    ),
    Option(
        "nexconn.backup_url",
        "--nexconn-backup-url",
        "NEXCONN_BACKUP_URL",
        url("https", "http"),
        "Nexconn: the region's backup host (none: the default region's, with the default host only)",
        "vendor",
        metavar="URL",
    ),
)
