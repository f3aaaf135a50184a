"""Tencent's own settings: the app, its admin and its host, from the environment and flags."""

from __future__ import annotations

import re
from dataclasses import dataclass

from syncer.errors import ConfigError
from syncer.option import Option, secret, text, url
from syncer.secret import Secret, revealed

DEFAULT_BASE_URL = "https://console.tim.qq.com"
DEFAULT_ADMIN = "administrator"


@dataclass(frozen=True, slots=True)
class TencentSettings:
    """One Tencent Cloud Chat app: its SDKAppID and secret key, the App admin account every call
    is made as, its host, and how long each UserSig it signs lives."""

    sdkappid: int | None = None
    secret_key: Secret | None = None
    admin: str = DEFAULT_ADMIN
    base_url: str = DEFAULT_BASE_URL
    usersig_ttl_s: int = 86400
    usersig_renew_before_s: int = 3600

    def credentials(self) -> tuple[int, str]:
        """The SDKAppID and the secret key; :class:`ConfigError` naming the setting if one is missing."""
        if self.sdkappid is None:
            raise ConfigError("no SDKAppID: set TENCENT_IM_SDKAPPID or pass --sdkappid")
        return self.sdkappid, revealed(self.secret_key, "no secret key: set TENCENT_IM_SECRET_KEY or pass --secret-key")


def _sdkappid(value: str) -> int:
    if not re.fullmatch(r"\d{1,12}", value.strip()):
        raise ValueError(f"{value[:40]!r} is not a number")
    return int(value)


OPTIONS = (
    Option("tencent.sdkappid", "--sdkappid", "TENCENT_IM_SDKAPPID", _sdkappid, "Tencent: the app's SDKAppID", "vendor"),
    Option(
        "tencent.secret_key",
        "--secret-key",
        "TENCENT_IM_SECRET_KEY",
        secret(text),
        "Tencent: the app's secret key (prefer the variable: flags show in ps)",
        "vendor",
        metavar="KEY",
        secret=True,
    ),
    Option("tencent.admin", "--admin", "TENCENT_IM_ADMIN", text, "Tencent: the App admin's identifier", "vendor", "ID"),
    Option(
        "tencent.base_url",
        "--base-url",
        "TENCENT_IM_BASE_URL",
        url("https", "http"),
        "Tencent: the REST API's host",
        "vendor",
        metavar="URL",
    ),
)
