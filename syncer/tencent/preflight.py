"""`syncer check` against Tencent: the calls that prove the settings work, none changing anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syncer.client import CallFailed, VendorClient
from syncer.settings import Settings
from syncer.tencent.api import GROUP_NOT_FOUND_CODES
from syncer.tencent.ops import response_filter

# A group ID no app has (the vendor answers 10010 for it): a read that proves the credentials.
PROBE_GROUP = "syncer-check-probe"
KEY_NOT_ENABLED = 10004  # "all defined key is invalid"


@dataclass(frozen=True, slots=True)
class _Shape:
    """A desired row's shape alone, as the batch read's filter takes it."""

    shape: str | None
    manages_attrs: bool = False
    attrs_checked_age_s: float | None = None


class TencentProbes:
    base_url_setting = "TENCENT_IM_BASE_URL"

    def __init__(self, settings: Settings, client: VendorClient) -> None:
        self.client = self._client = client
        self.base_url = settings.tencent.base_url

    @staticmethod
    def managed_keys(shapes: Sequence[str]) -> list[str]:
        """The custom-field keys runs name (each must be enabled in the console)."""
        keys: list[str] = response_filter([_Shape(s) for s in shapes]).get("AppDefinedDataFilter_Group", [])
        return keys

    async def credentials(self) -> str:
        body = {"GroupIdList": [PROBE_GROUP], "ResponseFilter": {"GroupBaseInfoFilter": ["Type"]}}
        await self._client.call("get_group_info", body)
        return "a get_group_info call was answered"

    async def attributes(self, canary: str | None) -> str:
        try:
            await self._client.call("get_group_attr", {"GroupId": canary or PROBE_GROUP})
        except CallFailed as exc:
            if exc.code not in GROUP_NOT_FOUND_CODES or canary is not None:
                raise
        return "get_group_attr answers"

    async def keys_refused(self, canary: str, keys: Sequence[str]) -> list[str]:
        """The keys of ``keys`` the vendor refuses as not enabled. Reads the canary's current value
        of each (naming them as runs do), then writes each back as it is (a key the group lacks:
        "", which deletes nothing there is): the one write `check` sends, and it changes nothing.
        The vendor names no key in its refusal: a refused set is tried a key at a time."""
        values = await self._read(canary, keys)
        if values is None:
            return [key for key in keys if len(keys) == 1 or await self._read(canary, [key]) is None]
        if await self._rewrite(canary, values, keys):
            return []
        return [key for key in keys if len(keys) == 1 or not await self._rewrite(canary, values, [key])]

    async def _read(self, canary: str, keys: Sequence[str]) -> dict[str, str] | None:
        flt = {"GroupBaseInfoFilter": ["Type"], "AppDefinedDataFilter_Group": list(keys)}
        try:
            answer = await self._client.call("get_group_info", {"GroupIdList": [canary], "ResponseFilter": flt})
        except CallFailed as exc:
            if exc.code == KEY_NOT_ENABLED:
                return None
            raise
        infos = answer.get("GroupInfo")
        info = infos[0] if isinstance(infos, list) and infos and isinstance(infos[0], dict) else {}
        code = info.get("ErrorCode")
        if code != 0:
            raise CallFailed(f"code {code}: {info.get('ErrorInfo', '')}", code=code, command="get_group_info")
        items = info.get("AppDefinedData") or []
        return {i["Key"]: i["Value"] for i in items if isinstance(i, dict) and isinstance(i.get("Value"), str)}

    async def _rewrite(self, canary: str, values: dict[str, str], keys: Sequence[str]) -> bool:
        items = [{"Key": k, "Value": values.get(k, "")} for k in keys]
        try:
            await self._client.call("modify_group_base_info", {"GroupId": canary, "AppDefinedData": items})
        except CallFailed as exc:
            if exc.code == KEY_NOT_ENABLED:
                return False
            raise
        return True
