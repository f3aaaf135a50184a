"""Where the vendor is chosen: the only module that names them all."""

from __future__ import annotations

from collections.abc import Callable

from syncer.errors import ConfigError
from syncer.settings import Settings
from syncer.vendor import Vendor

VENDORS = ("tencent",)


def make_vendor(settings: Settings, *, on_answer: Callable[[str, str, float], None] | None = None) -> Vendor:
    """The vendor ``settings.vendor`` names, with its client (not yet opened: ``async with vendor.client``)."""
    if settings.vendor == "tencent":
        from syncer.tencent.client import TencentClient
        from syncer.tencent.vendor import TencentVendor

        return TencentVendor(settings, TencentClient(settings, on_answer=on_answer))
    raise ConfigError(f"vendor {settings.vendor!r}: expected one of {', '.join(VENDORS)}")
