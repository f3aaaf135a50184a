"""Where the vendor is chosen: the only module that names them all."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from syncer.db.migrator import DesiredSetup
from syncer.errors import ConfigError
from syncer.secret import overridden
from syncer.settings import Secret, Settings
from syncer.vendor import Probes, Vendor

VENDORS = ("tencent", "nexconn")
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


def add_vendor_arguments(group: argparse._ArgumentGroup) -> None:
    """``--vendor`` and each vendor's own settings, for `run` and `plan`."""
    group.add_argument("--vendor", choices=VENDORS, help="env SYNCER_VENDOR; default tencent")
    group.add_argument("--sdkappid", help="Tencent: env TENCENT_IM_SDKAPPID")
    group.add_argument(
        "--secret-key", help="Tencent: env TENCENT_IM_SECRET_KEY (prefer the environment: flags show in ps)"
    )
    group.add_argument("--admin", help="Tencent: App admin identifier (env TENCENT_IM_ADMIN; default administrator)")
    group.add_argument("--base-url", help="Tencent: env TENCENT_IM_BASE_URL; default https://console.tim.qq.com")
    group.add_argument("--app-key", help="Nexconn: env NEXCONN_APP_KEY (the secret: env NEXCONN_APP_SECRET only)")
    group.add_argument("--nexconn-url", help="Nexconn: env NEXCONN_BASE_URL; default https://api.sg-light-api.com")
    group.add_argument("--nexconn-backup-url", help="Nexconn: env NEXCONN_BACKUP_URL; the region's backup host")


def vendor_overrides(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The settings the vendor flags give, over ``settings``' (None: not given, it stays)."""
    get = vars(args).get
    secret_key, base_url = get("secret_key"), get("base_url")
    nexconn_url, backup_url = get("nexconn_url"), get("nexconn_backup_url")
    sdkappid = get("sdkappid")  # text from run's flag (the emulator's own --sdkappid is a number already)
    if isinstance(sdkappid, str):
        if not sdkappid.strip().isdigit():
            raise ConfigError(f"--sdkappid (env TENCENT_IM_SDKAPPID): {sdkappid[:40]!r} is not a number")
        sdkappid = int(sdkappid)
    tencent = overridden(
        settings.tencent,
        sdkappid=sdkappid,
        secret_key=Secret(secret_key) if secret_key else None,
        admin=get("admin"),
        base_url=base_url.rstrip("/") if base_url else None,
    )
    nexconn = overridden(
        settings.nexconn,
        app_key=get("app_key"),
        base_url=nexconn_url.rstrip("/") if nexconn_url else None,
        # Another primary host with no backup named: no backup (the default region's backup
        # belongs to the default host only). "" means none.
        backup_url=backup_url.rstrip("/") if backup_url else ("" if nexconn_url else None),
    )
    return {"vendor": get("vendor"), "tencent": tencent, "nexconn": nexconn}
