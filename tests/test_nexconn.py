"""Nexconn specifics: signing, the answer's shapes, every documented limit, the diff, wrong
credentials, the backup host, and the emulator answering as the vendor documents."""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

import aiohttp
import pytest

from syncer.emulator.nexconn import EmuChannel
from syncer.emulator.server import Emulator
from syncer.nexconn.api import PERMISSIONS
from syncer.nexconn.client import NexconnWire, signature
from syncer.nexconn.diff import plan_channel
from syncer.nexconn.models import DesiredChannel, LiveChannel
from syncer.nexconn.ops import parse_live
from syncer.nexconn.seeding import ChannelDataset, desired_channel, drifted_channels, live_from_desired
from syncer.nexconn.settings import NexconnSettings
from syncer.nexconn.validation import validate
from syncer.settings import Secret, Settings

from .test_cli import syncer
from .test_vendors import VENDORS, Data

NEXCONN = next(v for v in VENDORS if v.name == "nexconn")
ROOT = Path(__file__).resolve().parents[1]


def test_the_signature_is_sha1_of_secret_nonce_and_timestamp_with_a_fresh_nonce_per_call() -> None:
    # The facts sheet's algorithm, computed independently.
    assert signature("secret", "14314", "1408710653491") == hashlib.sha1(b"secret143141408710653491").hexdigest()
    settings = Settings(nexconn=NexconnSettings("key1", Secret("s3cret"), "http://x"))
    wire = NexconnWire(settings, rng=random.Random(1), wall_clock=lambda: 1408710653.491)
    url, params, first = wire.request("profile_update", fallback=False)
    _, _, second = wire.request("profile_update", fallback=False)
    assert url == "http://x/v4/group-channel/profile/update" and params == {}
    assert first["App-Key"] == "key1" and first["Timestamp"] == "1408710653491"
    assert first["Signature"] == signature("s3cret", first["Nonce"], first["Timestamp"])
    assert first["Nonce"] != second["Nonce"] and len(first["Nonce"]) <= 18
    assert "s3cret" not in repr(first) + repr(settings)


def test_the_backup_host_is_used_only_after_a_failure_and_only_when_there_is_one() -> None:
    with_backup = Settings(nexconn=NexconnSettings("k", Secret("s"), backup_url="http://b"))
    assert NexconnWire(with_backup).request("profile_list", fallback=True)[0].startswith("http://b/")
    assert (
        NexconnWire(with_backup).request("profile_list", fallback=False)[0].startswith("https://api.sg-light-api.com/")
    )
    none = Settings(nexconn=NexconnSettings("k", Secret("s"), "http://a", ""))
    assert NexconnWire(none).request("profile_list", fallback=True)[0].startswith("http://a/")


def test_an_answer_is_read_whichever_portrait_key_it_uses() -> None:
    base = {"channelId": "c1", "name": "N", "permissions": {"joinPerm": 2}, "groupExtProfile": {"ext_a": "1"}}
    documented = parse_live({**base, "groupProfile": {"portrait_url": "https://p/1.png"}})
    requested = parse_live({**base, "groupProfile": {"portraitUrl": "https://p/1.png"}})
    assert documented == requested
    assert documented.profile["portrait_url"] == "https://p/1.png" and documented.profile["name"] == "N"
    assert documented.permissions == {"join_perm": 2} and documented.ext == {"ext_a": "1"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel_id": "x" * 65}, "channel_id: 65 characters, limit 64"),
        ({"channel_id": "has-dash"}, "channel_id: only letters and digits"),
        ({"channel_id": ""}, "channel_id: must not be empty"),
        ({"name": "频" * 65}, "name: 65 characters, limit 64"),
        ({"introduction": "i" * 513}, "introduction: 513 characters, limit 512"),
        ({"announcement": "a" * 1025}, "announcement: 1025 characters, limit 1024"),
        ({"portrait_url": "u" * 129}, "portrait_url: 129 characters, limit 128"),
        ({"join_perm": 4}, "join_perm: 4 is not one of 0..3"),
        ({"remove_perm": 3}, "remove_perm: 3 is not one of 0..2"),
        ({"mem_invite_perm": -1}, "mem_invite_perm: -1 is not one of 0..2"),
        ({"invite_perm": 2}, "invite_perm: 2 is not one of 0..1"),
        ({"profile_perm": 3}, "profile_perm: 3 is not one of 0..2"),
        ({"mem_profile_perm": 3}, "mem_profile_perm: 3 is not one of 0..2"),
        ({"ext_profile": {"tier": "gold"}}, "ext_profile['tier']: keys must start with 'ext_'"),
        ({"ext_profile": {"ext_" + "k" * 29: "v"}}, "key is 33 characters, limit 32 characters"),
        ({"ext_profile": {"ext_k": "v" * 257}}, "ext_profile['ext_k']: value is 257 characters, limit 256 characters"),
        ({"ext_profile": {f"ext_{i}": "v" for i in range(11)}}, "ext_profile: 11 keys, limit 10"),
        ({"ext_profile": {"ext_k": 7}}, "ext_profile['ext_k']: value must be a string or null, got a number"),
        ({"ext_profile": ["ext_k"]}, "ext_profile: must be a JSON object"),
    ],
)
def test_every_documented_limit_is_checked_locally_in_characters(change: dict[str, object], field: str) -> None:
    from dataclasses import replace

    problems = validate(replace(desired_channel(1), **change))  # type: ignore[arg-type]
    assert any(field in p for p in problems), problems


def test_at_the_limits_a_row_is_valid_characters_not_bytes() -> None:
    at_limits = DesiredChannel(
        channel_id="A1" * 32,
        name="频" * 64,  # 192 UTF-8 bytes, 64 characters
        introduction="i" * 512,
        announcement="a" * 1024,
        portrait_url="u" * 128,
        ext_profile={f"ext_{i}": "v" * 256 for i in range(10)},
        **{column: highest for column, (_, highest) in PERMISSIONS.items()},
    )
    assert validate(at_limits) == []


def test_the_diff_sends_only_what_differs_and_nothing_when_in_line() -> None:
    row = desired_channel(3)
    live = parse_live(live_from_desired(row).answer())
    assert plan_channel(row, live).in_sync
    live = LiveChannel(
        live.channel_id,
        {**live.profile, "name": "Old"},
        {**live.permissions, "join_perm": 3},
        {"ext_tier": "gold", "ext_region": "sg", "ext_other": "kept"},
    )
    plan = plan_channel(row, live)
    assert plan.base_payload == {
        "channelId": "ch0000003",
        "groupProfile": {"name": "Channel 3"},
        "permissions": {"joinPerm": 1},
    }
    assert plan.calls == ("profile_update",)
    assert [c.field for c in plan.changes] == ["name", "joinPerm"]
    unmanaged = DesiredChannel("ch1", name="Kept")  # every other column NULL: not managed
    assert plan_channel(
        unmanaged, LiveChannel("ch1", {"name": "Kept", "introduction": "x"}, {"join_perm": 3}, {})
    ).in_sync


async def test_a_wrong_secret_costs_one_call_exits_78_and_names_the_settings(db: str, emulator: Emulator) -> None:
    data = drifted_channels(120, seed=51)
    emulator.nexconn.seed(data.live)
    await NEXCONN.load(db, data.desired)
    env = nexconn_environment(db, emulator) | {"NEXCONN_APP_SECRET": "not-the-secret"}
    result = await syncer("run", env=env)
    assert result.code == 78, result.err
    assert "NEXCONN_APP_KEY and NEXCONN_APP_SECRET" in result.err
    assert [(r.command, r.code) for r in emulator.log] == [("profile_list", 1004)]
    assert "not-the-secret" not in result.err + result.out


async def test_when_the_primary_host_fails_the_backup_host_takes_the_calls(db: str, emulator: Emulator) -> None:
    data = drifted_channels(80, seed=52, drift=1.0)
    emulator.nexconn.seed(data.live)
    await NEXCONN.load(db, data.desired)
    emulator.config.nexconn_primary_down = True  # 503 to everything
    result = await syncer("run", env=nexconn_environment(db, emulator))
    assert result.code == 0, result.err
    assert NEXCONN.mismatches(_data(data), emulator) == []
    hosts = [(r.host, r.code) for r in emulator.log]
    assert hosts[0] == ("primary", -503) and ("backup", 0) in hosts
    assert all(code == 0 for host, code in hosts if host == "backup")


async def test_the_emulator_answers_as_nexconn_documents(emulator: Emulator) -> None:
    emulator.nexconn.seed([EmuChannel("c1", {"name": "Old"})])
    config = emulator.config
    settings = Settings(
        nexconn=NexconnSettings(config.nexconn_app_key, Secret(config.nexconn_app_secret), emulator.base_url)
    )
    wire = NexconnWire(settings)

    async def post(command: str, body: object, **header_changes: str) -> tuple[int, dict[str, object]]:
        url, _, headers = wire.request(command, fallback=False)
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=body, headers=headers | header_changes) as resp,
        ):
            return resp.status, await resp.json()

    assert await post("profile_list", {"channelIds": ["c1"]}, Signature="0" * 40) == (
        401,
        {"code": 1004, "errorMessage": "signature verification failed"},
    )
    status, answer = await post("profile_list", {"channelIds": ["c1", "missing"]})
    profiles = answer["result"]["profiles"]  # type: ignore[index]
    assert status == 200 and answer["code"] == 0 and [p["channelId"] for p in profiles] == ["c1"]
    assert {"portraitUrl", "portrait_url"} <= set(profiles[0]["groupProfile"]) and profiles[0]["name"] == "Old"
    assert (await post("profile_update", {"channelId": "c1", "groupProfile": {"name": "n" * 65}}))[1]["code"] == 1005
    assert (await post("profile_update", {"channelId": "c1", "permissions": {"joinPerm": 4}}))[1]["code"] == 1002
    assert (await post("profile_update", {"channelId": "c1", "groupExtProfile": {"tier": "x"}}))[1]["code"] == 1002
    assert emulator.nexconn.channels["c1"].profile["name"] == "Old"  # a refused call applies nothing
    assert await post("profile_update", {"channelId": "c1", "groupProfile": {"name": "New"}}) == (200, {"code": 0})
    assert emulator.nexconn.channels["c1"].profile["name"] == "New"
    emulator.config.nexconn_rate_limit = 1
    await post("profile_list", {"channelIds": ["c1"]})
    assert await post("profile_list", {"channelIds": ["c1"]}) == (
        429,
        {"code": 1008, "errorMessage": "too many requests"},
    )


async def test_the_demo_runs_for_nexconn() -> None:
    result = await syncer("demo", "--vendor", "nexconn", "--groups", "300", env={})
    assert result.code == 0, result.out[-2000:] + result.err[-2000:]
    assert "== syncer run, again: nothing left to change" in result.out
    assert re.search(r"second run: 0 write calls, 6 profile_list calls for 300 groups", result.out), result.out


def nexconn_environment(db: str, emulator: Emulator) -> dict[str, str]:
    return {
        "SYNCER_DATABASE_URL": db,
        "SYNCER_VENDOR": "nexconn",
        "NEXCONN_APP_KEY": emulator.config.nexconn_app_key,
        "NEXCONN_APP_SECRET": emulator.config.nexconn_app_secret,
        "NEXCONN_BASE_URL": emulator.base_url,
        "NEXCONN_BACKUP_URL": f"{emulator.base_url}/backup",
    }


def _data(data: ChannelDataset) -> Data:
    return Data(data.desired, data.live, data.drifted, data.invalid)


def test_no_vendor_is_named_in_the_shared_modules() -> None:
    shared = [
        "syncer/pipeline.py",
        "syncer/client.py",
        "syncer/limiter.py",
        "syncer/cli.py",
        "syncer/metrics.py",
        "syncer/progress.py",
        "syncer/report.py",
        "syncer/vendor.py",
        "syncer/ports.py",
        "syncer/pacing.py",
        "syncer/retry.py",
        "syncer/gate.py",
        "syncer/stopping.py",
        "syncer/db/store.py",
        "syncer/db/lock.py",
        "syncer/db/sqlfiles.py",
        "sql/queries.sql",
    ]
    for path in shared:
        text = (ROOT / path).read_text()
        found = re.findall(r"tencent|nexconn|rongcloud|sdkappid|usersig", text, flags=re.IGNORECASE)
        assert not found, (path, found)
