"""How a plan reads: each group's changes, a set's keys one by one, long values shortened."""

from __future__ import annotations

from syncer.models import FieldChange, GroupPlan
from syncer.pipeline import RunReport
from syncer.planview import detailed_exit_code, family, group_lines
from syncer.report import show_value


def test_a_group_shows_each_field_then_each_key_of_a_set_sorted_with_its_marker() -> None:
    plan = GroupPlan(
        "grp-1",
        {"Name": "New"},
        {"topic": "t"},
        (
            FieldChange("Name", "Old", "New"),
            FieldChange("AppDefinedData.tier", "gold", None),
            FieldChange("AppDefinedData.region", None, "sg"),
            FieldChange("GroupAttr.topic", "stale", "t"),
            FieldChange("AppDefinedData.lang", "en", "de"),
        ),
        ("max_member_num: MaxMemberNum cannot be changed for AVChatRoom groups; not sent",),
    )
    assert group_lines(plan) == [
        "~ grp-1",
        "    Name: 'Old' → 'New'",
        "    AppDefinedData:",
        "      ~ lang: 'en' → 'de'",
        "      + region = 'sg'",
        "      - tier",
        "    GroupAttr:",
        "      ~ topic: 'stale' → 't'",
        "    ! max_member_num: MaxMemberNum cannot be changed for AVChatRoom groups; not sent",
    ]


def test_a_long_value_is_shortened_in_the_middle_with_its_length_unless_asked_whole() -> None:
    url = "https://cdn.example.com/" + "x" * 200 + "/avatar.png"
    shown = show_value(url)
    assert shown.startswith("'https://cdn.example.com/") and shown.endswith("/avatar.png' (237 characters)")
    assert len(shown) < 90 and show_value(url, full=True) == repr(url)
    assert show_value(None) == "∅" and show_value({"a": 1}) == '{"a": 1}'


def test_the_roll_up_counts_an_attribute_set_as_one_and_custom_keys_apart() -> None:
    assert [family(f) for f in ("Name", "GroupAttr.topic", "AppDefinedData.tier", "groupExtProfile.ext_a")] == [
        "Name",
        "GroupAttr",
        "AppDefinedData.tier",
        "groupExtProfile.ext_a",
    ]


def test_detailed_exit_codes_are_terraforms() -> None:
    assert detailed_exit_code(RunReport("plan", status="succeeded")) == 0
    assert detailed_exit_code(RunReport("plan", status="succeeded", would_change=3)) == 2
    assert detailed_exit_code(RunReport("plan", status="partial", would_change=3)) == 2
    assert detailed_exit_code(RunReport("plan", status="failed", would_change=3)) == 1
