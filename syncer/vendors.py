"""Where the vendor is chosen: the only module that names them all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syncer.db.migrator import DesiredSetup
from syncer.errors import ConfigError
from syncer.nexconn.settings import OPTIONS as NEXCONN_OPTIONS
from syncer.settings import Settings
from syncer.tencent.settings import OPTIONS as TENCENT_OPTIONS
from syncer.vendor import Probes, Vendor

VENDORS = ("tencent", "nexconn")
# Each vendor's own settings: its app, credentials and hosts (syncer/options.py lists them all).
VENDOR_OPTIONS = (*TENCENT_OPTIONS, *NEXCONN_OPTIONS)
# Each vendor's desired table when no SYNCER_DESIRED_RELATION names another (in schema public).
DEFAULT_DESIRED_TABLES = {"tencent": "desired_group_profiles", "nexconn": "desired_group_channels"}


def desired_setup(settings: Settings, vendor: str) -> DesiredSetup:
    """``vendor``'s desired relation, as the settings name it (or its default)."""
    relation = settings.desired_relation_for(vendor, DEFAULT_DESIRED_TABLES[vendor])
    return DesiredSetup(vendor, relation, required=vendor == settings.vendor)


def desired_setups(settings: Settings) -> list[DesiredSetup]:
    """Every vendor's: `syncer migrate` sets up each (the settings' vendor's must work)."""
    return [desired_setup(settings, vendor) for vendor in VENDORS]


def make_vendor(settings: Settings, *, on_answer: Callable[[str, str, float], None] | None = None) -> Vendor[Any, Any]:
    """The vendor ``settings.vendor`` names, with its client (not yet opened: ``async with vendor.client``)."""
    if settings.vendor == "tencent":
        from syncer.tencent.client import TencentClient
        from syncer.tencent.vendor import TencentVendor

        return TencentVendor(settings, TencentClient(settings, on_answer=on_answer))
    if settings.vendor == "nexconn":
        from syncer.client import VendorClient
        from syncer.nexconn.client import NexconnWire
        from syncer.nexconn.vendor import NexconnVendor

        return NexconnVendor(settings, VendorClient(settings, NexconnWire(settings), on_answer=on_answer))
    raise ConfigError(f"vendor {settings.vendor!r}: expected one of {', '.join(VENDORS)}")


def make_probes(settings: Settings) -> Probes:
    """`syncer check`'s calls for the vendor ``settings.vendor`` names, with a client of their own."""
    if settings.vendor == "tencent":
        from syncer.tencent.client import TencentClient
        from syncer.tencent.preflight import TencentProbes

        return TencentProbes(settings, TencentClient(settings))
    if settings.vendor == "nexconn":
        from syncer.client import VendorClient
        from syncer.nexconn.client import NexconnWire
        from syncer.nexconn.preflight import NexconnProbes

        return NexconnProbes(settings, VendorClient(settings, NexconnWire(settings)))
    raise ConfigError(f"vendor {settings.vendor!r}: expected one of {', '.join(VENDORS)}")
