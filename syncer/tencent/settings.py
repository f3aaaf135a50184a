"""Tencent's own settings: the app, its admin and its host, from the environment and flags."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from syncer.errors import ConfigError
from syncer.secret import Secret

DEFAULT_BASE_URL = "https://console.tim.qq.com"
DEFAULT_ADMIN = "administrator"


@dataclass(frozen=True, slots=True)
class TencentSettings:
    sdkappid: int | None = None
    secret_key: Secret | None = None
    admin: str = DEFAULT_ADMIN  # the App admin account every call is made as
    base_url: str = DEFAULT_BASE_URL
    usersig_ttl_s: int = 86400
    usersig_renew_before_s: int = 3600

    def credentials(self) -> tuple[int, str]:
        """The SDKAppID and the secret key; :class:`ConfigError` naming the setting if one is missing."""
        if self.sdkappid is None:
            raise ConfigError("no SDKAppID: set TENCENT_IM_SDKAPPID or pass --sdkappid")
        if self.secret_key is None or not self.secret_key.reveal():
            raise ConfigError("no secret key: set TENCENT_IM_SECRET_KEY or pass --secret-key")
        return self.sdkappid, self.secret_key.reveal()

    def with_overrides(self, **changes: Any) -> TencentSettings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def tencent_from_env(env: Mapping[str, str]) -> TencentSettings:
    sdkappid_text = env.get("TENCENT_IM_SDKAPPID", "").strip()
    sdkappid = None
    if sdkappid_text:
        if not re.fullmatch(r"\d+", sdkappid_text):
            raise ConfigError("TENCENT_IM_SDKAPPID must be a number")
        sdkappid = int(sdkappid_text)
    key = env.get("TENCENT_IM_SECRET_KEY")
    return TencentSettings(
        sdkappid=sdkappid,
        secret_key=Secret(key) if key else None,
        admin=env.get("TENCENT_IM_ADMIN") or DEFAULT_ADMIN,
        base_url=(env.get("TENCENT_IM_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
    )
