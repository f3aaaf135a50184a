"""The emulator answers as the vendor documents: HTTP 200 with ErrorCode, codes, limits, faults."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import syncer
from syncer.emulator.process import emulator_process
from syncer.emulator.server import DEMO_SECRET_KEY, Emulator, EmulatorConfig
from syncer.emulator.state import EmuGroup
from syncer.nexconn.api import COMMAND_PATHS as NEXCONN_PATHS
from syncer.tencent.api import COMMAND_PATHS
from syncer.tencent.usersig import gen_usersig

from .test_cli import syncer as run_syncer


async def raw_call(
    emulator: Emulator,
    command: str,
    body: Any,
    *,
    key: str = DEMO_SECRET_KEY,
    identifier: str = "administrator",
    sdkappid: int | None = None,
    expire: int = 86400,
    issued: int | None = None,
    method: str = "POST",
    contenttype: str | None = "json",
) -> tuple[int, dict[str, Any]]:
    appid = sdkappid or emulator.config.sdkappid
    params = {
        "sdkappid": str(appid),
        "identifier": identifier,
        "usersig": gen_usersig(key, appid, identifier, expire, issued or int(time.time())),
        "random": "12345",
    }
    if contenttype is not None:
        params["contenttype"] = contenttype
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{emulator.base_url}/{COMMAND_PATHS[command]}", params=params, json=body) as resp,
    ):
        return resp.status, await resp.json(content_type=None) if resp.status == 200 else {}


@pytest.fixture
async def seeded(emulator: Emulator) -> Emulator:
    # The custom-field keys these tests write, enabled as in the vendor's console.
    emulator.config.enabled_custom_keys = frozenset({"tier", "x", *(f"k{i}" for i in range(10))})
    emulator.seed(
        [
            EmuGroup("g1", name="One", app_defined_data={"tier": "gold", "x": "y"}, attrs={"a": "1"}),
            EmuGroup("av", type="AVChatRoom", name="Live"),
            EmuGroup("big", name="Big", member_num=3000),
            EmuGroup("old", name="Old", legacy_mute_name=True, mute_all_member="On"),
        ]
    )
    return emulator


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"key": "0" * 64}, 70009),
        ({"identifier": "bob"}, 60010),
        ({"sdkappid": 1400009999}, 70020),
        ({"issued": 1700000000, "expire": 60}, 70001),
    ],
)
async def test_bad_credentials_answer_http_200_with_the_documented_code(
    seeded: Emulator, change: dict[str, Any], code: int
) -> None:
    status, answer = await raw_call(seeded, "get_group_info", {"GroupIdList": ["g1"]}, **change)
    assert status == 200
    assert answer["ActionStatus"] == "FAIL"
    assert answer["ErrorCode"] == code


async def test_get_group_info_filters_fields_and_reports_per_group_codes(seeded: Emulator) -> None:
    body = {
        "GroupIdList": ["g1", "nope", "", "old"],
        "ResponseFilter": {
            "GroupBaseInfoFilter": ["Type", "Name", "MuteAllMember"],
            "AppDefinedDataFilter_Group": ["tier"],
        },
    }
    status, answer = await raw_call(seeded, "get_group_info", body)
    assert status == 200 and answer["ErrorCode"] == 0
    by_id = {info["GroupId"]: info for info in answer["GroupInfo"]}
    assert set(by_id["g1"]) == {"GroupId", "ErrorCode", "ErrorInfo", "Type", "Name", "MuteAllMember", "AppDefinedData"}
    assert by_id["g1"]["AppDefinedData"] == [{"Key": "tier", "Value": "gold"}]
    assert by_id["nope"]["ErrorCode"] == 10010
    assert by_id[""]["ErrorCode"] == 10015
    assert by_id["old"]["ShutUpAllMember"] == "On" and "MuteAllMember" not in by_id["old"]


async def test_more_than_50_ids_is_refused(seeded: Emulator) -> None:
    _, answer = await raw_call(seeded, "get_group_info", {"GroupIdList": [f"g{i}" for i in range(51)]})
    assert answer["ErrorCode"] == 10004


async def test_answer_over_the_size_limit_is_10018(seeded: Emulator) -> None:
    # Without a filter the member list comes back: 3000 members overflow a 64 KB limit.
    seeded.config.max_answer_bytes = 64 * 1024
    _, answer = await raw_call(seeded, "get_group_info", {"GroupIdList": ["big"]})
    assert answer["ErrorCode"] == 10018
    _, filtered = await raw_call(
        seeded, "get_group_info", {"GroupIdList": ["big"], "ResponseFilter": {"GroupBaseInfoFilter": ["Name"]}}
    )
    assert filtered["ErrorCode"] == 0


async def test_modify_validates_limits_and_type_rules_atomically(seeded: Emulator) -> None:
    cases: list[tuple[dict[str, Any], int]] = [
        ({"GroupId": "g1", "Name": "群" * 11}, 10004),
        ({"GroupId": "g1", "Name": ""}, 10004),
        ({"GroupId": "g1", "FaceUrl": "u" * 101}, 10004),
        ({"GroupId": "g1", "ApplyJoinOption": "Anyone"}, 10004),
        ({"GroupId": "g1", "MaxMemberNum": 0}, 10004),
        ({"GroupId": "g1", "AppDefinedData": [{"Key": "k" * 17, "Value": "v"}]}, 10004),
        ({"GroupId": "g1", "AppDefinedData": [{"Key": f"k{i}", "Value": "v"} for i in range(9)]}, 10004),
        ({"GroupId": "av", "MaxMemberNum": 10}, 10007),
        ({"GroupId": "av", "InviteJoinOption": "DisableInvite"}, 10007),
        ({"GroupId": "missing", "Name": "x"}, 10010),
    ]
    for body, code in cases:
        _, answer = await raw_call(seeded, "modify_group_base_info", {**body, "Introduction": "changed"})
        assert answer["ErrorCode"] == code, body
    assert seeded.groups["g1"].introduction == ""  # nothing of a refused call applied

    _, answer = await raw_call(
        seeded,
        "modify_group_base_info",
        {"GroupId": "g1", "Name": "群" * 10, "ShutUpAllMember": "On", "AppDefinedData": [{"Key": "x", "Value": ""}]},
    )
    assert answer["ErrorCode"] == 0
    group = seeded.groups["g1"]
    assert (group.name, group.mute_all_member, group.app_defined_data) == ("群" * 10, "On", {"tier": "gold"})


async def test_attribute_limits_and_per_group_write_rate(seeded: Emulator) -> None:
    cases = [
        ([{"key": "k" * 33, "value": "v"}], 10045),
        ([{"key": "k", "value": "v" * 4001}], 10046),
        ([{"key": f"k{i}", "value": "v"} for i in range(17)], 10047),
        ([{"key": f"k{i}", "value": "v" * 4000} for i in range(5)], 10048),
    ]
    for attrs, code in cases:
        _, answer = await raw_call(seeded, "set_group_attr", {"GroupId": "g1", "GroupAttr": attrs})
        assert answer["ErrorCode"] == code
    codes = []
    for i in range(7):
        _, answer = await raw_call(
            seeded, "set_group_attr", {"GroupId": "g1", "GroupAttr": [{"key": "n", "value": str(i)}]}
        )
        codes.append(answer["ErrorCode"])
    assert codes == [0] * 5 + [10049, 10049]
    _, answer = await raw_call(seeded, "get_group_attr", {"GroupId": "g1"})
    assert answer["GroupAttrAry"] == [{"key": "n", "value": "4"}]


async def test_per_command_limit_answers_60007_and_the_log_shows_every_call() -> None:
    emulator = Emulator(EmulatorConfig(rate_limit=5))
    emulator.seed([EmuGroup("g1", name="x")])
    await emulator.start()
    try:
        codes = [
            (await raw_call(emulator, "get_group_info", {"GroupIdList": ["g1"]}))[1]["ErrorCode"] for _ in range(7)
        ]
        other = (await raw_call(emulator, "get_group_attr", {"GroupId": "g1"}))[1]["ErrorCode"]
    finally:
        await emulator.stop()
    assert codes == [0] * 5 + [60007, 60007]
    assert other == 0  # each command has its own window
    assert emulator.max_calls_per_window()["get_group_info"] == 7


async def test_injected_502_is_an_http_status() -> None:
    emulator = Emulator(EmulatorConfig(fault_502=1.0))
    await emulator.start()
    try:
        status, _ = await raw_call(emulator, "get_group_info", {"GroupIdList": ["g1"]})
    finally:
        await emulator.stop()
    assert status == 502


async def test_injected_drop_closes_the_connection_unanswered() -> None:
    emulator = Emulator(EmulatorConfig(fault_drop=1.0))
    await emulator.start()
    try:
        with pytest.raises(aiohttp.ClientError):
            await raw_call(emulator, "get_group_info", {"GroupIdList": ["g1"]})
    finally:
        await emulator.stop()
    assert [r.code for r in emulator.log] == [-1]


def _commands_sent(package: str) -> set[str]:
    """Every command the vendor's code sends, as its source names it."""
    source = "\n".join(p.read_text() for p in (Path(syncer.__file__).parent / package).glob("*.py"))
    return set(re.findall(r"""\.(?:call|read)\(\s*"(\w+)\"""", source))


async def test_every_command_syncer_sends_has_a_path_and_the_emulator_serves_each_path(emulator: Emulator) -> None:
    sent = _commands_sent("tencent")
    assert {"get_group_info", "modify_group_base_info", "get_group_attr", "set_group_attr"} <= sent
    assert sent <= set(COMMAND_PATHS)
    assert _commands_sent("nexconn") == {"profile_list", "profile_update"} <= set(NEXCONN_PATHS)
    for command in COMMAND_PATHS:
        _, answer = await raw_call(emulator, command, {})
        assert answer["ErrorCode"] != 10003, command  # "invalid command": a path it does not serve


async def test_a_custom_key_not_enabled_is_refused_in_a_write_and_a_read_until_it_is_declared(
    seeded: Emulator,
) -> None:
    write = {"GroupId": "g1", "Introduction": "changed", "AppDefinedData": [{"Key": "region", "Value": "eu"}]}
    _, refused = await raw_call(seeded, "modify_group_base_info", write)
    assert (refused["ErrorCode"], refused["ErrorInfo"]) == (10004, "all defined key is invalid")
    assert seeded.groups["g1"].introduction == "" and "region" not in seeded.groups["g1"].app_defined_data
    read = {"GroupIdList": ["g1"], "ResponseFilter": {"AppDefinedDataFilter_Group": ["tier", "region"]}}
    _, refused_read = await raw_call(seeded, "get_group_info", read)
    assert refused_read["ErrorCode"] == 10004  # the docs are silent on reads: strict

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{seeded.base_url}/_emulator/custom-keys", json={"keys": ["tier", "region"]}) as r:
            assert (await r.json())["keys"] == ["region", "tier"]
        async with session.get(f"{seeded.base_url}/_emulator/custom-keys") as r:
            assert (await r.json())["keys"] == ["region", "tier"]
    assert (await raw_call(seeded, "modify_group_base_info", write))[1]["ErrorCode"] == 0
    _, answer = await raw_call(seeded, "get_group_info", read)
    assert answer["GroupInfo"][0]["AppDefinedData"] == [
        {"Key": "tier", "Value": "gold"},
        {"Key": "region", "Value": "eu"},
    ]


async def test_a_filter_without_a_base_filter_returns_no_base_field(seeded: Emulator) -> None:
    body = {"GroupIdList": ["g1"], "ResponseFilter": {"AppDefinedDataFilter_Group": ["tier"]}}
    _, answer = await raw_call(seeded, "get_group_info", body)
    (info,) = answer["GroupInfo"]
    assert set(info) == {"GroupId", "ErrorCode", "ErrorInfo", "AppDefinedData"}
    _, empty = await raw_call(seeded, "get_group_info", {"GroupIdList": ["g1"], "ResponseFilter": {}})
    assert set(empty["GroupInfo"][0]) == {"GroupId", "ErrorCode", "ErrorInfo"}


@pytest.mark.parametrize("contenttype", [None, "xml", "JSON"])
async def test_a_missing_or_other_contenttype_is_refused(seeded: Emulator, contenttype: str | None) -> None:
    status, answer = await raw_call(seeded, "get_group_info", {"GroupIdList": ["g1"]}, contenttype=contenttype)
    assert (status, answer["ActionStatus"], answer["ErrorCode"]) == (200, "FAIL", 60003)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_a_method_other_than_post_is_an_http_200_with_an_error_code(seeded: Emulator, method: str) -> None:
    status, answer = await raw_call(seeded, "get_group_info", {"GroupIdList": ["g1"]}, method=method)
    assert (status, answer["ActionStatus"], answer["ErrorCode"]) == (200, "FAIL", 60002)
    assert method in answer["ErrorInfo"]


async def test_a_custom_field_item_without_a_value_is_refused_not_a_deletion(seeded: Emulator) -> None:
    body = {"GroupId": "g1", "AppDefinedData": [{"Key": "tier"}]}
    _, answer = await raw_call(seeded, "modify_group_base_info", body)
    assert answer["ErrorCode"] == 10004
    assert seeded.groups["g1"].app_defined_data["tier"] == "gold"
    deleting = {"GroupId": "g1", "AppDefinedData": [{"Key": "tier", "Value": ""}]}
    assert (await raw_call(seeded, "modify_group_base_info", deleting))[1]["ErrorCode"] == 0
    assert "tier" not in seeded.groups["g1"].app_defined_data


async def test_the_emulator_command_seeds_types_member_counts_and_enabled_keys() -> None:
    async with emulator_process(
        "--seed-groups",
        "8",
        "--seed-types",
        "Private,AVChatRoom,Community",
        "--member-count",
        "40",
        custom_keys=("tier", "zone"),
    ) as remote:
        groups = await remote.get("groups")
        assert [g["Type"] for g in groups.values()][:4] == ["Private", "AVChatRoom", "Community", "Private"]
        assert {g["MemberNum"] for g in groups.values()} == {40}
        assert (await remote.get("custom-keys"))["keys"] == ["tier", "zone"]
    refused = await run_syncer("emulator", "--port", "0", "--seed-groups", "2", "--seed-types", "Club", env={})
    assert refused.code == 78 and "unknown group type 'Club'" in refused.err
