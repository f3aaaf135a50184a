"""`syncer check` against a real database and the emulator, configured to fail each item in turn:
each failure marked and explained, nothing else failing with it, and no write that changes anything."""

from __future__ import annotations

import json
import re
import socket
import ssl
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import trustme

from syncer.checklist import Item, Mark
from syncer.emulator.server import Emulator, EmulatorConfig
from syncer.preflight import preflight
from syncer.settings import Secret
from syncer.tencent.models import DesiredGroup
from syncer.tencent.seeding import CUSTOM_KEYS

from .helpers import fetch, load_desired, seeded, seeded_channels, settings_for
from .test_cli import environment, syncer

ITEMS = [
    "database",
    "schema",
    "desired relation",
    "privileges",
    "vendor host",
    "credentials",
    "clock",
    "custom-field keys",
    "attribute service",
]


def marks(items: list[Item]) -> dict[str, Mark]:
    assert [item.name for item in items] == ITEMS
    return {item.name: item.mark for item in items}


def item(items: list[Item], name: str) -> Item:
    (found,) = [i for i in items if i.name == name]
    return found


def passed_but(items: list[Item], **others: Mark) -> None:
    expected = {name: others.get(name.replace(" ", "_").replace("-", "_"), Mark.PASSED) for name in ITEMS}
    assert marks(items) == expected, [(i.name, i.mark, i.detail) for i in items]


async def test_every_item_passes_and_the_canary_is_rewritten_unchanged(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 20, seed=3)
    canary = data.desired[0].group_id
    before = {gid: g.snapshot() for gid, g in emulator.groups.items()}
    items = await preflight(settings_for(db, emulator), canary=canary)
    passed_but(items)
    assert "tier" in item(items, "custom-field keys").detail
    writes = [r for r in emulator.log if not r.command.startswith("get_")]
    assert {(r.command, r.group_ids) for r in writes} == {("modify_group_base_info", (canary,))}
    after = {gid: g.snapshot() for gid, g in emulator.groups.items()}
    for snapshot in (*before.values(), *after.values()):
        snapshot.pop("InfoSeq")  # the vendor counts every write, even one that changes nothing
    assert after == before


async def test_without_a_canary_the_keys_are_not_verified_and_nothing_is_written(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 20, seed=3)
    items = await preflight(settings_for(db, emulator), canary=None)
    passed_but(items, custom_field_keys=Mark.NOT_VERIFIED)
    assert "--canary" in item(items, "custom-field keys").fix
    assert all(r.command.startswith("get_") for r in emulator.log)


async def test_a_key_not_enabled_is_named_and_only_it(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 20, seed=3)
    await load_desired(db, [DesiredGroup("grp-extra", name="Extra", app_defined_data={"tier": "gold", "region": "eu"})])
    items = await preflight(settings_for(db, emulator), canary=data.desired[0].group_id)
    passed_but(items, custom_field_keys=Mark.FAILED)
    keys = item(items, "custom-field keys")
    assert "not enabled at the vendor: region " in keys.detail and "console" in keys.fix
    emulator.config.enabled_custom_keys = frozenset({*CUSTOM_KEYS, "region"})
    passed_but(await preflight(settings_for(db, emulator), canary=data.desired[0].group_id))


async def test_an_unreachable_database_fails_its_item_and_the_vendor_is_still_checked(emulator: Emulator) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"postgresql://syncer:db-s3cret@127.0.0.1:{closed.getsockname()[1]}/app"
        items = await preflight(replace(settings_for(url, emulator), db_connect_timeout_s=2), canary=None)
    assert marks(items)["database"] is Mark.FAILED
    assert "db-s3cret" not in json.dumps([i.detail + i.fix for i in items])
    assert [marks(items)[n] for n in ("schema", "desired relation", "privileges")] == [Mark.NOT_VERIFIED] * 3
    assert marks(items)["credentials"] is Mark.PASSED


async def test_a_schema_behind_and_an_empty_desired_relation_say_what_to_run(
    new_database: Callable[[], Awaitable[str]], db: str, emulator: Emulator
) -> None:
    behind = await preflight(settings_for(await new_database(), emulator), canary=None)
    assert marks(behind)["schema"] is Mark.FAILED and item(behind, "schema").fix == "syncer migrate"
    empty = await preflight(settings_for(db, emulator), canary=None)
    passed_but(empty, desired_relation=Mark.FAILED)
    assert "empty" in item(empty, "desired relation").detail


async def test_a_role_without_the_privileges_a_run_needs_is_told_the_grants(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 5, seed=3)
    role = f"syncer_{uuid.uuid4().hex[:8]}"
    await fetch(db, f'CREATE ROLE "{role}" LOGIN')
    try:
        await fetch(db, f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        await fetch(db, f'GRANT INSERT, UPDATE ON sync_runs, group_sync_state, saved_plans TO "{role}"')
        parts = urlsplit(db)
        as_role = urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rsplit('@', 1)[-1]}"))
        items = await preflight(settings_for(as_role, emulator), canary=None)
        privileges = item(items, "privileges")
        assert privileges.mark is Mark.FAILED
        assert privileges.detail == "this role lacks INSERT on group_changes, UPDATE on group_changes"
        assert "GRANT INSERT ON public.group_changes" in privileges.fix
    finally:
        await fetch(db, f'DROP OWNED BY "{role}" CASCADE')
        await fetch(db, f'DROP ROLE "{role}"')


async def test_a_host_that_does_not_resolve_or_does_not_verify_fails_the_host_item(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 5, seed=3)
    nowhere = await preflight(settings_for(db, emulator, base_url="https://syncer-check.invalid"), canary=None)
    assert marks(nowhere)["vendor host"] is Mark.FAILED and "does not resolve" in item(nowhere, "vendor host").detail
    assert {marks(nowhere)[n] for n in ITEMS[5:]} == {Mark.NOT_VERIFIED}

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    stranger = Emulator(EmulatorConfig())
    await stranger.start(tls=context)
    try:
        untrusted = await preflight(settings_for(db, emulator, base_url=stranger.base_url), canary=None)
    finally:
        await stranger.stop()
    host = item(untrusted, "vendor host")
    assert host.mark is Mark.FAILED and "TLS certificate does not verify" in host.detail
    assert stranger.log == []


async def test_wrong_credentials_a_skewed_clock_and_no_attribute_service_each_fail_alone(
    db: str, emulator: Emulator
) -> None:
    data = await seeded(db, emulator, 5, seed=3)
    settings = settings_for(db, emulator)
    wrong = replace(settings, tencent=replace(settings.tencent, secret_key=Secret("0" * 64)))
    refused = await preflight(wrong, canary=None)
    assert (marks(refused)["vendor host"], marks(refused)["credentials"]) == (Mark.PASSED, Mark.FAILED)
    assert "TENCENT_IM_SECRET_KEY" in item(refused, "credentials").detail

    emulator.config.clock_offset_s = -300
    skewed = await preflight(settings, canary=data.desired[0].group_id)
    passed_but(skewed, clock=Mark.FAILED)
    assert re.match(r"30[01] s ahead of the vendor's", item(skewed, "clock").detail)

    emulator.config.clock_offset_s = 0
    emulator.config.disabled_commands = frozenset({"get_group_attr"})
    no_attributes = await preflight(settings, canary=data.desired[0].group_id)
    passed_but(no_attributes, attribute_service=Mark.FAILED)
    assert "10026" in item(no_attributes, "attribute service").detail


async def test_nexconn_has_no_keys_to_enable_and_no_attribute_service(db: str, emulator: Emulator) -> None:
    await seeded_channels(db, emulator, 5, seed=3)
    items = await preflight(settings_for(db, emulator, vendor="nexconn"), canary=None)
    passed_but(items)
    assert item(items, "attribute service").detail == "this vendor has none"


async def test_the_command_prints_a_checklist_or_json_and_exits_0_only_when_nothing_failed(
    db: str, emulator: Emulator
) -> None:
    await seeded(db, emulator, 10, seed=3)
    env = environment(db, emulator)
    ok = await syncer("check", "--json", env=env)
    assert ok.code == 0, ok.err
    document = json.loads(ok.out)
    assert document["ok"] is True and [i["name"] for i in document["items"]] == ITEMS
    assert document["items"][7]["status"] == "not verified" and "--canary" in document["items"][7]["fix"]

    emulator.config.disabled_commands = frozenset({"get_group_attr"})
    failed = await syncer("check", env=env)
    assert failed.code == 1
    assert "[FAIL] attribute service" in failed.out and "fix: enable group attributes" in failed.out
    assert "1 failed, 1 not verified" in failed.out
