"""Tencent's own settings: the app, its admin and its host, from the environment and flags."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from syncer.errors import ConfigError
from syncer.secret import Secret, revealed, secret_from_env

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


def tencent_from_env(env: Mapping[str, str]) -> TencentSettings:
    sdkappid_text = env.get("TENCENT_IM_SDKAPPID", "").strip()
    sdkappid = None
    if sdkappid_text:
        if not re.fullmatch(r"\d+", sdkappid_text):
            raise ConfigError("TENCENT_IM_SDKAPPID must be a number")
        sdkappid = int(sdkappid_text)
    return TencentSettings(
        sdkappid=sdkappid,
        secret_key=secret_from_env(env, "TENCENT_IM_SECRET_KEY"),
        admin=env.get("TENCENT_IM_ADMIN") or DEFAULT_ADMIN,
        base_url=(env.get("TENCENT_IM_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
    )
