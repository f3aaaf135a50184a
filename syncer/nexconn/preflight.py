"""`syncer check` against Nexconn: one read that proves the settings work. Nexconn has no keys to
enable in a console and no attribute service: those items do not apply."""

from __future__ import annotations

from collections.abc import Sequence

from syncer.client import CallFailed, VendorClient
from syncer.nexconn.api import CHANNEL_NOT_FOUND
from syncer.settings import Settings

# A channel ID no app has: a read that proves the credentials.
PROBE_CHANNEL = "syncercheckprobe"


class NexconnProbes:
    base_url_setting = "NEXCONN_BASE_URL"

    def __init__(self, settings: Settings, client: VendorClient) -> None:
        self.client = self._client = client
        self.base_url = settings.nexconn.base_url

    @staticmethod
    def managed_keys(shapes: Sequence[str]) -> None:
        return None  # nothing is enabled key by key in a console

    async def keys_refused(self, canary: str, keys: Sequence[str]) -> list[str]:
        return []

    async def attributes(self, canary: str | None) -> None:
        return None  # no attribute service

    async def credentials(self) -> str:
        try:
            await self._client.call("profile_list", {"channelIds": [PROBE_CHANNEL]})
        except CallFailed as exc:
            if exc.code != CHANNEL_NOT_FOUND:
                raise
        return "a profile/list call was answered"
