"""`syncer check`: before the first run against a real app, whether it will work: the database
(reachable, schema current, the desired relation, privileges) and the vendor (host and TLS,
credentials, clock, custom-field keys, attribute service). It sends no write that changes
anything: the only write it can send rewrites a canary group's own values (``--canary``)."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from syncer.checklist import Item, Mark
from syncer.db.store import DbTimeouts, PgStore
from syncer.errors import ConfigError, CredentialsError, DatabaseError, SchemaError, VendorError
from syncer.settings import Settings, redact_url
from syncer.vendor import Probes
from syncer.vendors import desired_setup, make_probes

# Beyond this, signatures stamped with this machine's clock are at risk (issued "in the
# future", or a timestamp out of the vendor's window).
MAX_CLOCK_SKEW_S = 60.0


async def preflight(settings: Settings, *, canary: str | None, clock: Callable[[], float] = time.time) -> list[Item]:
    probes = make_probes(settings)  # refuses missing credentials here (exit 78), before any item
    items: list[Item] = []
    shapes = await _database(settings, settings.vendor, items)
    async with probes.client:
        await _vendor(probes, lambda: probes.client.last_answer_date, canary, shapes, items, clock)
    return items


async def _database(settings: Settings, vendor: str, items: list[Item]) -> list[str] | None:
    """The database's items; the desired rows' shapes when they could be read."""
    later = ("schema", "desired relation", "privileges")
    try:
        url = settings.require_database()
    except ConfigError as exc:
        items.append(Item("database", Mark.FAILED, str(exc), "set SYNCER_DATABASE_URL"))
        items += [Item(name, Mark.NOT_VERIFIED, "no database to check", "") for name in later]
        return None
    timeouts = DbTimeouts(settings.db_connect_timeout_s, settings.db_statement_timeout_s)
    try:
        store = await PgStore.connect(url, vendor=vendor, timeouts=timeouts, schema=settings.schema)
    except (DatabaseError, ConfigError) as exc:
        items.append(Item("database", Mark.FAILED, str(exc), f"check SYNCER_DATABASE_URL ({redact_url(url)})"))
        items += [Item(name, Mark.NOT_VERIFIED, "the database is unreachable", "") for name in later]
        return None
    try:
        items.append(Item("database", Mark.PASSED, f"{redact_url(url)} answers"))
        return await _schema(settings, store, vendor, items)
    finally:
        await store.close()


async def _schema(settings: Settings, store: PgStore, vendor: str, items: list[Item]) -> list[str] | None:
    try:
        await store.check_schema()
    except SchemaError as exc:
        items.append(Item("schema", Mark.FAILED, str(exc), "syncer migrate"))
        items += [Item(n, Mark.NOT_VERIFIED, "the schema is behind", "") for n in ("desired relation", "privileges")]
        return None
    versions = await store.applied_versions()
    items.append(Item("schema", Mark.PASSED, f"schema {settings.schema!r} at migration {max(versions)}, current"))
    setup = desired_setup(settings, vendor)
    shapes: list[str] | None = None
    try:
        await store.check_schema(setup)
        shapes = await store.desired_shapes()
        rows = await store.count_desired()
    except (SchemaError, DatabaseError, ConfigError) as exc:
        items.append(Item("desired relation", Mark.FAILED, f"{setup.relation}: {exc}", "syncer migrate"))
    else:
        detail = f"{setup.relation}: {rows:,} rows, read through syncer's view"
        items.append(
            Item("desired relation", Mark.PASSED if rows else Mark.FAILED, detail if rows else f"{detail}: empty")
        )
    missing = await store.missing_privileges()
    if missing:
        grants = "; ".join(f"GRANT {p} ON {settings.schema}.{t} TO <syncer's role>" for t, p in missing)
        shown = ", ".join(f"{p} on {t}" for t, p in missing)
        items.append(Item("privileges", Mark.FAILED, f"this role lacks {shown}", grants))
    else:
        items.append(Item("privileges", Mark.PASSED, "SELECT, INSERT and UPDATE on syncer's tables"))
    return shapes


async def _vendor(
    probes: Probes,
    answer_date: Callable[[], str | None],
    canary: str | None,
    shapes: list[str] | None,
    items: list[Item],
    clock: Callable[[], float],
) -> None:
    later = ("credentials", "clock", "custom-field keys", "attribute service")
    host_item = await _resolves(probes)
    if host_item is not None:
        items.append(host_item)
        items += [Item(name, Mark.NOT_VERIFIED, "the vendor's host does not resolve", "") for name in later]
        return
    try:
        proved = await probes.credentials()
    except CredentialsError as exc:
        reached = exc.code is not None  # the vendor answered: the host is right, the credentials not
        items.append(Item("vendor host", Mark.PASSED if reached else Mark.FAILED, _host(probes, reached, exc)))
        if reached:
            items.append(Item("credentials", Mark.FAILED, str(exc), "check the credentials the message names"))
        items += [
            Item(n, Mark.NOT_VERIFIED, "no call was answered", "") for n in later if n != "credentials" or not reached
        ]
        return
    except VendorError as exc:
        items.append(Item("vendor host", Mark.PASSED, _host(probes, True, None)))
        items.append(Item("credentials", Mark.FAILED, str(exc), ""))
        items += [Item(n, Mark.NOT_VERIFIED, "no call was answered", "") for n in later[1:]]
        return
    items.append(Item("vendor host", Mark.PASSED, _host(probes, True, None)))
    items.append(Item("credentials", Mark.PASSED, proved))
    items.append(_clock(answer_date(), clock()))
    items.append(await _custom_keys(probes, canary, shapes))
    items.append(await _attributes(probes, canary))


async def _resolves(probes: Probes) -> Item | None:
    """A failed item when the vendor's host does not resolve (a proxy resolves it itself)."""
    parts = urlsplit(probes.base_url)
    host = parts.hostname or ""
    try:
        async with asyncio.timeout(10):
            await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443)
    except (OSError, TimeoutError) as exc:
        return Item(
            "vendor host",
            Mark.FAILED,
            f"{host} does not resolve ({getattr(exc, 'strerror', None) or type(exc).__name__})",
            f"check {probes.base_url_setting} and this machine's DNS (or set HTTPS_PROXY)",
        )
    return None


def _host(probes: Probes, reached: bool, exc: Exception | None) -> str:
    if reached:
        tls = ", TLS verified" if probes.base_url.startswith("https://") else " (plain http)"
        return f"{probes.base_url} answers{tls}"
    return str(exc)


def _clock(date: str | None, now: float) -> Item:
    if date is None:
        return Item("clock", Mark.NOT_VERIFIED, "the vendor's answer carried no Date header", "")
    try:
        vendor_time = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return Item("clock", Mark.NOT_VERIFIED, f"the vendor's Date header is unreadable: {date[:60]!r}", "")
    skew = now - vendor_time
    detail = f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the vendor's (its Date header)"
    if abs(skew) > MAX_CLOCK_SKEW_S:
        return Item("clock", Mark.FAILED, detail, "synchronise this machine's clock (NTP): signatures carry its time")
    return Item("clock", Mark.PASSED, f"within {MAX_CLOCK_SKEW_S:.0f} s: {detail}")


async def _custom_keys(probes: Probes, canary: str | None, shapes: list[str] | None) -> Item:
    name = "custom-field keys"
    if shapes is None:
        return Item(name, Mark.NOT_VERIFIED, "the desired relation could not be read", "")
    keys = probes.managed_keys(shapes)
    if keys is None:
        return Item(name, Mark.PASSED, "this vendor has no keys to enable")
    if not keys:
        return Item(name, Mark.PASSED, "the desired rows manage no custom-field key")
    shown = ", ".join(keys)
    if canary is None:
        return Item(
            name,
            Mark.NOT_VERIFIED,
            f"{shown}: no read tells whether a key is enabled",
            "syncer check --canary GROUP_ID (rewrites that group's own values of these keys: a test group is best)",
        )
    try:
        refused = await probes.keys_refused(canary, keys)
    except VendorError as exc:
        return Item(name, Mark.FAILED, f"the canary group {canary}: {exc}", "name a group that exists with --canary")
    if refused:
        return Item(
            name,
            Mark.FAILED,
            f"not enabled at the vendor: {', '.join(refused)} (every group with them would fail, 10004)",
            "enable them in the console (Group > Custom field), or stop managing them",
        )
    return Item(name, Mark.PASSED, f"{shown}: enabled (rewritten unchanged on {canary})")


async def _attributes(probes: Probes, canary: str | None) -> Item:
    name = "attribute service"
    try:
        proved = await probes.attributes(canary)
    except VendorError as exc:
        # The vendor answered with a code (10026: the command is disabled for the app, say).
        fix = "enable group attributes for the app in its console, or stop managing group_attrs"
        return Item(name, Mark.FAILED, str(exc), fix if exc.code is not None else "")
    if proved is None:
        return Item(name, Mark.PASSED, "this vendor has none")
    return Item(name, Mark.PASSED, proved)
