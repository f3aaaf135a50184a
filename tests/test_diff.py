"""The diff: desired vs live → the minimal payload. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
import re

from syncer.client import answer_digest
from syncer.db.sqlfiles import desired_templates
from syncer.ports import PageRow
from syncer.tencent.diff import attrs_fingerprint, plan_group
from syncer.tencent.models import BASE_FIELDS, DesiredGroup, LiveGroup
from syncer.tencent.ops import parse_live, response_filter


def live(**base: object) -> LiveGroup:
    fields = {"Type": "Public", "Name": "n", "MuteAllMember": "Off", **base}
    return LiveGroup("g1", str(fields["Type"]), fields, {})


def test_only_differing_managed_fields_are_sent() -> None:
    row = DesiredGroup("g1", name="new", introduction="same", mute_all_member=True)
    plan = plan_group(row, live(Name="old", Introduction="same", Notification="unmanaged"))
    assert plan.base_payload == {"GroupId": "g1", "Name": "new", "MuteAllMember": "On"}
    assert [c.field for c in plan.changes] == ["Name", "MuteAllMember"]


def test_null_columns_are_not_managed() -> None:
    plan = plan_group(DesiredGroup("g1"), live(Name="anything", MuteAllMember="On"))
    assert plan.in_sync and plan.base_payload is None


def test_mute_false_sends_off_and_equal_mute_sends_nothing() -> None:
    assert plan_group(DesiredGroup("g1", mute_all_member=False), live(MuteAllMember="On")).base_payload == {
        "GroupId": "g1",
        "MuteAllMember": "Off",
    }
    assert plan_group(DesiredGroup("g1", mute_all_member=False), live(MuteAllMember="Off")).in_sync


def test_mute_is_read_under_its_older_name() -> None:
    info = {"GroupId": "g1", "Type": "Public", "ShutUpAllMember": "On", "ErrorCode": 0}
    parsed = parse_live(info)
    assert parsed.base["MuteAllMember"] == "On"
    assert plan_group(DesiredGroup("g1", mute_all_member=True), parsed).in_sync


def test_custom_fields_set_delete_and_leave_unnamed_keys() -> None:
    current = LiveGroup("g1", "Public", {"Type": "Public"}, {"tier": "bronze", "old": "x", "other": "keep"})
    row = DesiredGroup("g1", app_defined_data={"tier": "gold", "old": None, "absent": "", "same": None})
    plan = plan_group(row, current)
    assert plan.base_payload == {
        "GroupId": "g1",
        "AppDefinedData": [{"Key": "tier", "Value": "gold"}, {"Key": "old", "Value": ""}],
    }


def test_attrs_written_whole_when_they_differ_and_not_when_equal_or_unread() -> None:
    row = DesiredGroup("g1", group_attrs={"a": "1", "b": "2"})
    differs = LiveGroup("g1", "Public", {}, {}, attrs={"a": "1"})
    assert plan_group(row, differs).attrs == {"a": "1", "b": "2"}
    same = LiveGroup("g1", "Public", {}, {}, attrs={"b": "2", "a": "1"})
    assert plan_group(row, same).in_sync
    unread = LiveGroup("g1", "Public", {}, {}, attrs=None)
    assert plan_group(row, unread).in_sync


def test_empty_attr_set_clears() -> None:
    plan = plan_group(DesiredGroup("g1", group_attrs={}), LiveGroup("g1", "Public", {}, {}, attrs={"a": "1"}))
    assert plan.attrs == {}
    assert not plan.in_sync


def test_type_restricted_field_is_skipped_with_a_warning() -> None:
    row = DesiredGroup("g1", name="x", max_member_num=500, invite_join_option="DisableInvite")
    plan = plan_group(row, live(Type="AVChatRoom", Name="y", MaxMemberNum=100, InviteJoinOption="FreeAccess"))
    assert plan.base_payload == {"GroupId": "g1", "Name": "x"}
    assert len(plan.warnings) == 2
    assert any("MaxMemberNum" in w and "AVChatRoom" in w for w in plan.warnings)


def test_restricted_field_already_equal_gives_no_warning() -> None:
    plan = plan_group(
        DesiredGroup("g1", apply_join_option="FreeAccess"), live(Type="Private", ApplyJoinOption="FreeAccess")
    )
    assert plan.in_sync and not plan.warnings


def test_fingerprint_ignores_key_order_and_sees_values() -> None:
    assert attrs_fingerprint({"a": "1", "b": "2"}) == attrs_fingerprint({"b": "2", "a": "1"})
    assert attrs_fingerprint({"a": "1"}) != attrs_fingerprint({"a": "2"})
    assert attrs_fingerprint({}) != attrs_fingerprint({"": ""})


def _raw(group_id: str, custom_keys: list[str] | None = None, **columns: object) -> PageRow:
    """A desired row as a page query answers it (undecoded): its shape as the view makes it."""
    shape = json.dumps([[c for c in BASE_FIELDS if c in columns], custom_keys or []])
    return PageRow(group_id, True, None, None, None, None, shape, False)


def test_response_filter_names_only_managed_fields_and_keys() -> None:
    rows = [_raw("a", name="x"), _raw("b", ["k"], mute_all_member=True)]
    flt = response_filter(rows)
    assert flt["GroupBaseInfoFilter"][:3] == ["Type", "Name", "MuteAllMember"]
    assert "Introduction" not in flt["GroupBaseInfoFilter"]
    assert flt["AppDefinedDataFilter_Group"] == ["k"]
    assert "MemberInfoFilter" not in flt
    assert "AppDefinedDataFilter_Group" not in response_filter([_raw("c", name="x")])


def test_the_shape_names_every_base_column_as_managed_when_set() -> None:
    """syncer_tencent_desired's shape (the answer's filter, in SQL) lists the base columns: the
    same as BASE_FIELDS."""
    shape = desired_templates("tencent")["view"]
    named = re.findall(r"CASE WHEN d\.(\w+) IS NOT NULL THEN '(\w+)' END", shape)
    assert named and all(column == name for column, name in named)
    assert [name for _, name in named] == list(BASE_FIELDS)


def test_attribute_fingerprints_keep_the_spelling_they_were_recorded_with() -> None:
    """Fingerprints already in group_sync_state were taken over json.dumps' spelling: a change of
    spelling would make every recorded set look changed, and cost one attribute read per group."""
    tricky = [
        {"b": "2", "a": "1"},
        {"ctl": "\x00\x01\x1f\x7f\t\n\r\b\f", "quote": '"\\/'},
        {"中文": "値", "emoji": "😀", "sep": "\u2028\u2029", "bom": "\ufeff"},
        {"": "", "Z": "z", "a": "A", "é": "e", "😀": "astral key"},
    ]
    for attrs in tricky:
        stdlib = json.dumps(attrs, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        assert attrs_fingerprint(attrs) == hashlib.sha256(stdlib).hexdigest(), attrs


def test_an_answer_digest_covers_every_byte() -> None:
    body = json.dumps({"GroupInfo": [{"GroupId": "g1", "Name": "a"}]}).encode()
    assert len(answer_digest(body)) == 32
    assert answer_digest(body) != answer_digest(body.replace(b'"a"', b'"b"'))
    assert answer_digest(body) != answer_digest(body + b" ")
