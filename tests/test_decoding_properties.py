"""Generated answer shapes and row values thrown at every decoder of untrusted input: each ends
in a value, a per-group ReadError or a Malformed naming the field, never anything else."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncer import jsoncodec
from syncer.errors import Malformed
from syncer.nexconn import ops as nexconn
from syncer.nexconn.diff import plan_channel
from syncer.nexconn.models import PROFILE_COLUMNS as NEXCONN_COLUMNS
from syncer.nexconn.models import decode_desired as decode_channel
from syncer.nexconn.seeding import desired_channel
from syncer.nexconn.validation import validate as validate_channel
from syncer.tencent import ops as tencent
from syncer.tencent.diff import plan_group
from syncer.tencent.models import PROFILE_COLUMNS as TENCENT_COLUMNS
from syncer.tencent.models import decode_desired as decode_group
from syncer.tencent.seeding import desired_group
from syncer.tencent.validation import validate as validate_group
from syncer.vendor import BOOLEAN, JSON, TEXT, WHOLE_NUMBER, LiveAnswer, ReadError

IDS = ["grp-0000000", "grp-0000001", "grp-0000002"]
CHANNELS = ["chan0000000", "chan0000001"]

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
    row = desired_group(0)
    _each_planned_or_named(found, IDS, lambda raw: plan_group(row, tencent.parse_live(raw)), "get_group_info")


def _each_planned_or_named(
    found: Mapping[str, LiveAnswer | ReadError], ids: list[str], plan: Callable[[Any], object], command: str
) -> None:
    """Every group asked for has an answer or a read error; an answer is planned from, or is
    malformed in words that name ``command``."""
    assert set(found) == set(ids)
    for live in found.values():
        assert isinstance(live, LiveAnswer | ReadError)
        if isinstance(live, LiveAnswer):
            try:
                plan(live.raw)
            except Malformed as exc:
                assert f"{command} answered" in str(exc)


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
    row = desired_channel(0)
    _each_planned_or_named(found, CHANNELS, lambda raw: plan_channel(row, nexconn.parse_live(raw)), "profile/list")


deep = st.integers(1000, 1300).map(lambda d: "[" * d + "]" * d)  # deeper than either decoder goes


def _profile(columns: dict[str, Any]) -> str:
    return jsoncodec.dumps_text(columns)


# A jsonb column comes as its text: any value, JSON text of any value, or text nested too deep.
column_values = json_values | json_values.map(jsoncodec.dumps_text) | deep
profiles_of_any_shape = json_values.map(jsoncodec.dumps_text) | st.just("{") | st.just("") | deep


# Each vendor's row decoder, its validation and its profile's columns.
ROWS: dict[str, tuple[Callable[[str, str], Any], Callable[[Any], list[str]], dict[str, str]]] = {
    "tencent": (decode_group, validate_group, TENCENT_COLUMNS),
    "nexconn": (decode_channel, validate_channel, NEXCONN_COLUMNS),
}


@pytest.mark.parametrize("vendor", ROWS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rows_of_any_value(vendor: str, data: st.DataObject) -> None:
    # Whatever a view hands syncer: a clear rejection naming the column, or problems to report.
    decode, validate, columns = ROWS[vendor]
    group_id = data.draw(st.text(max_size=80))
    values = data.draw(st.fixed_dictionaries({c: column_values for c in columns}))
    try:
        problems = validate(decode(group_id, _profile(values)))
    except Malformed as exc:
        assert str(exc).split(":")[0] in {*columns, "the row's profile"}, exc
    else:
        assert all(isinstance(p, str) and len(p.encode()) < 400 for p in problems)


def _value_of(kind: str, column: str, n: int) -> Any:
    """A value of ``kind`` that only ``column``, the ``n``th, has (each vendor has one boolean)."""
    return {TEXT: column, WHOLE_NUMBER: n, BOOLEAN: True, JSON: {column: n}}[kind]


def test_each_column_decodes_into_the_model_field_of_its_name() -> None:
    # Decoding is positional: a column out of the model's order would land in another field.
    vendors: tuple[tuple[Callable[[str, str], Any], dict[str, str]], ...] = (
        (decode_group, TENCENT_COLUMNS),
        (decode_channel, NEXCONN_COLUMNS),
    )
    for decode, columns in vendors:
        expected = {column: _value_of(kind, column, n) for n, (column, kind) in enumerate(columns.items())}
        profile = {c: jsoncodec.dumps_text(v) if isinstance(v, dict) else v for c, v in expected.items()}
        model = decode("g1", jsoncodec.dumps_text(profile))
        assert {column: getattr(model, column) for column in expected} == expected


@given(profiles_of_any_shape)
def test_a_profile_that_is_not_an_object_is_malformed(profile: str) -> None:
    for decode in (decode_group, decode_channel):
        try:
            decode("g1", profile)
        except Malformed as exc:
            assert str(exc).startswith(("the row's profile", *TENCENT_COLUMNS, *NEXCONN_COLUMNS)), exc


@given(st.text() | st.just("a\ud800b"), json_values)
def test_anything_decoded_encodes_again_as_utf8(text: str, value: Any) -> None:
    # A lone surrogate reaches a message only from a vendor's answer (json decodes "\ud800"):
    # what records it must still encode, and as UTF-8 Postgres takes.
    encoded = jsoncodec.dumps([text, value])
    encoded.decode("utf-8")
    assert jsoncodec.loads(encoded)[0] == text or "\ud800" in text or any(0xD800 <= ord(c) < 0xE000 for c in text)


def test_an_error_code_past_32_bits_is_no_code() -> None:
    found = tencent._groups_answered({"GroupInfo": [{"GroupId": IDS[0], "ErrorCode": 2**31}]}, IDS[:1], "d")
    failure = found[IDS[0]]
    assert isinstance(failure, ReadError) and failure.code is None and "not a code" in failure.message
