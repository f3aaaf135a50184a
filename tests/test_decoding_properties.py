"""Generated answer shapes and row values thrown at every decoder of untrusted input: each ends
in a value, a per-group ReadError or a Malformed naming the field, never anything else."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncer import jsoncodec
from syncer.errors import Malformed
from syncer.nexconn import vendor as nexconn
from syncer.nexconn.diff import plan_channel
from syncer.nexconn.seeding import desired_channel
from syncer.nexconn.validation import validate as validate_channel
from syncer.seeding import DESIRED_COLUMNS, desired_group
from syncer.tencent import ops as tencent
from syncer.tencent import vendor as tencent_vendor
from syncer.tencent.diff import plan_group
from syncer.tencent.validation import validate as validate_group
from syncer.vendor import LiveAnswer, ReadError

IDS = ["grp-0000000", "grp-0000001", "grp-0000002"]
CHANNELS = ["chan0000000", "chan0000001"]
CHANNEL_COLUMNS = (
    "group_id", "name", "introduction", "announcement", "portrait_url", "join_perm", "remove_perm",
    "mem_invite_perm", "invite_perm", "profile_perm", "mem_profile_perm", "ext_profile",
)  # fmt: skip

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
)


def _field(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects that use the documented names with values of any kind."""
    return st.dictionaries(st.sampled_from(names), json_values, max_size=len(names))


tencent_entries = st.builds(
    lambda group_id, fields: {"GroupId": group_id, **fields},
    st.sampled_from(IDS) | json_values,
    _field(
        [
            *("ErrorCode", "ErrorInfo", "Type", "Name", "Introduction", "Notification", "FaceUrl", "MaxMemberNum"),
            *("ApplyJoinOption", "InviteJoinOption", "MuteAllMember", "ShutUpAllMember", "AppDefinedData"),
        ]
    )
    | st.builds(
        lambda code, items: {"ErrorCode": code, "AppDefinedData": items},
        st.sampled_from([0, 0, 10010]) | json_values,
        st.lists(_field(["Key", "Value"]) | json_values, max_size=3),
    ),
)
tencent_answers = st.dictionaries(
    st.just("GroupInfo"), st.lists(tencent_entries | json_values, max_size=5) | json_values, max_size=1
)


@settings(max_examples=400, deadline=None)
@given(tencent_answers)
def test_tencent_batch_answers_of_any_shape(answer: dict[str, Any]) -> None:
    found = tencent._groups_answered(answer, IDS, "digest")
    assert set(found) == set(IDS)
    row = desired_group(0)
    for live in found.values():
        assert isinstance(live, LiveAnswer | ReadError)
        if isinstance(live, LiveAnswer):
            try:
                plan_group(row, tencent.parse_live(live.raw))
            except Malformed as exc:
                assert "get_group_info answered" in str(exc)


class _AttrCaller:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    async def call(self, command: str, body: dict[str, Any], *, group_id: str | None = None) -> dict[str, Any]:
        return self.answer

    async def read(self, command: str, body: dict[str, Any], *, same_as: str | None) -> Any:
        raise AssertionError("not a read")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.just("GroupAttrAry"), st.lists(_field(["key", "value"]) | json_values) | json_values))
async def test_tencent_attribute_answers_of_any_shape(answer: dict[str, Any]) -> None:
    try:
        attrs = await tencent.read_attrs(_AttrCaller(answer), "grp-0000000")
    except Malformed as exc:
        assert "get_group_attr answered" in str(exc)
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in attrs.items())


nexconn_profiles = st.builds(
    lambda channel_id, fields: {"channelId": channel_id, **fields},
    st.sampled_from(CHANNELS) | json_values,
    _field(["name", "groupProfile", "permissions", "groupExtProfile"])
    | st.builds(
        lambda profile, permissions, ext: {"groupProfile": profile, "permissions": permissions, "groupExtProfile": ext},
        _field(["name", "introduction", "announcement", "portraitUrl", "portrait_url"]) | json_values,
        _field(["joinPerm", "removePerm", "memInvitePerm", "invitePerm", "profilePerm"]) | json_values,
        st.dictionaries(st.sampled_from(["ext_a", "ext_b"]), json_values) | json_values,
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.just("result"),
        st.dictionaries(st.just("profiles"), st.lists(nexconn_profiles | json_values, max_size=4) | json_values)
        | json_values,
    )
)
def test_nexconn_batch_answers_of_any_shape(answer: dict[str, Any]) -> None:
    found = nexconn._channels_answered(answer, CHANNELS, "digest")
    assert set(found) == set(CHANNELS)
    row = desired_channel(0)
    for live in found.values():
        assert isinstance(live, LiveAnswer | ReadError)
        if isinstance(live, LiveAnswer):
            try:
                plan_channel(row, nexconn.parse_live(live.raw))
            except Malformed as exc:
                assert "profile/list answered" in str(exc)


def _json_text(value: Any) -> str:
    return jsoncodec.dumps_text(value)


json_columns = st.none() | json_values.map(_json_text) | st.integers(1000, 1300).map(lambda d: "[" * d + "]" * d)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(max_size=60),
    st.none() | st.text(max_size=40),
    st.none() | st.integers(-5, 5),
    st.none() | st.text(max_size=20),
    json_columns,
    json_columns,
)
def test_tencent_rows_of_any_value(
    group_id: str, name: str | None, max_members: int | None, option: str | None, custom: Any, attrs: Any
) -> None:
    row = {
        **dict.fromkeys(DESIRED_COLUMNS),
        "group_id": group_id,
        "name": name,
        "max_member_num": max_members,
        "apply_join_option": option,
        "app_defined_data": custom,
        "group_attrs": attrs,
    }
    try:
        problems = validate_group(tencent_vendor.decode_desired(row))
    except Malformed as exc:
        assert str(exc).startswith(("app_defined_data: ", "group_attrs: "))
    else:
        assert all(isinstance(p, str) and len(p.encode()) < 400 for p in problems)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=80),
    st.none() | st.text(max_size=80),
    st.none() | st.integers(-3, 5),
    json_columns,
)
def test_nexconn_rows_of_any_value(channel_id: str, name: str | None, perm: int | None, ext: Any) -> None:
    row = {
        **dict.fromkeys(CHANNEL_COLUMNS),
        "group_id": channel_id,
        "name": name,
        "join_perm": perm,
        "ext_profile": ext,
    }
    try:
        problems = validate_channel(nexconn.decode_desired(row))
    except Malformed as exc:
        assert str(exc).startswith("ext_profile: ")
    else:
        assert all(isinstance(p, str) and len(p.encode()) < 400 for p in problems)
