"""Nexconn's own settings: the app's key and secret and its hosts, from the environment and flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from syncer.errors import ConfigError
from syncer.secret import Secret, revealed, secret_from_env

# Singapore's primary and backup hosts (nexconn-facts.md lists the other regions).
DEFAULT_BASE_URL = "https://api.sg-light-api.com"
DEFAULT_BACKUP_URL = "https://api-b.sg-light-api.com"


@dataclass(frozen=True, slots=True)
class NexconnSettings:
    """One Nexconn app: its App-Key and secret, its host and the backup host of its region."""

    app_key: str | None = None
    app_secret: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    backup_url: str | None = DEFAULT_BACKUP_URL  # None or "": no backup host

    def credentials(self) -> tuple[str, str]:
        """The App-Key and its secret; :class:`ConfigError` naming the setting if one is missing."""
        if not self.app_key:
            raise ConfigError("no Nexconn app key: set NEXCONN_APP_KEY or pass --app-key")
        return self.app_key, revealed(self.app_secret, "no Nexconn app secret: set NEXCONN_APP_SECRET")


def nexconn_from_env(env: Mapping[str, str]) -> NexconnSettings:
    base = (env.get("NEXCONN_BASE_URL") or "").rstrip("/")
    backup = (env.get("NEXCONN_BACKUP_URL") or "").rstrip("/")
    if not backup:
        # The default region's backup goes with the default host only: a backup of another
        # region, or of an emulator, must be named.
        backup = "" if base else DEFAULT_BACKUP_URL
    return NexconnSettings(
        app_key=env.get("NEXCONN_APP_KEY") or None,
        app_secret=secret_from_env(env, "NEXCONN_APP_SECRET"),
        base_url=base or DEFAULT_BASE_URL,
        backup_url=backup or None,
    )
