"""Every documented limit, checked locally in UTF-8 bytes before any call."""

from __future__ import annotations

from dataclasses import replace

import pytest

from syncer.tencent.models import DesiredGroup
from syncer.tencent.seeding import desired_group
from syncer.tencent.validation import validate

VALID = desired_group(1)


def test_a_complete_valid_row_has_no_problems() -> None:
    assert validate(VALID) == []


def test_an_unmanaged_row_is_valid() -> None:
    assert validate(DesiredGroup("g1")) == []


@pytest.mark.parametrize(
    ("change", "field", "limit_text"),
    [
        ({"name": "a" * 31}, "name", "limit 30 bytes"),
        ({"name": "群" * 11}, "name", "33 bytes, limit 30 bytes"),  # 11 characters, 33 bytes
        ({"name": ""}, "name", "must not be empty"),
        ({"introduction": "é" * 121}, "introduction", "242 bytes, limit 240 bytes"),
        ({"notification": "x" * 301}, "notification", "limit 300 bytes"),
        ({"face_url": "https://x/" + "y" * 91}, "face_url", "101 bytes, limit 100 bytes"),
        ({"max_member_num": 0}, "max_member_num", "must be positive"),
        ({"max_member_num": -5}, "max_member_num", "must be positive"),
        ({"apply_join_option": "Anyone"}, "apply_join_option", "FreeAccess, NeedPermission, DisableApply"),
        ({"invite_join_option": "DisableApply"}, "invite_join_option", "FreeAccess, NeedPermission, DisableInvite"),
        ({"app_defined_data": ["a"]}, "app_defined_data", "must be a JSON object, got a JSON array"),
        ({"app_defined_data": {"k" * 17: "v"}}, "app_defined_data", "key is 17 bytes, limit 16 bytes"),
        ({"app_defined_data": {"k": "v" * 513}}, "app_defined_data", "value is 513 bytes, limit 512 bytes"),
        ({"app_defined_data": {"k": 5}}, "app_defined_data", "must be a string or null, got a number"),
        ({"app_defined_data": {f"k{i}": "v" for i in range(11)}}, "app_defined_data", "11 keys with values, limit 10"),
        ({"group_attrs": "x"}, "group_attrs", "must be a JSON object, got text"),
        ({"group_attrs": [{"key": "a"}]}, "group_attrs", "must be a JSON object, got a JSON array"),
        ({"group_attrs": {"a" * 33: "v"}}, "group_attrs", "key is 33 bytes, limit 32 bytes"),
        ({"group_attrs": {"a": "v" * 4001}}, "group_attrs", "value is 4001 bytes, limit 4000 bytes"),
        ({"group_attrs": {"a": None}}, "group_attrs", "value must be a string, got null"),
        ({"group_attrs": {f"k{i}": "v" for i in range(17)}}, "group_attrs", "17 keys, limit 16"),
        ({"group_attrs": {f"k{i}": "v" * 4000 for i in range(5)}}, "group_attrs", "total 20000 bytes, limit 16000"),
        ({"group_id": ""}, "group_id", "must not be empty"),
        ({"group_id": "g" * 49}, "group_id", "49 bytes, limit 48 bytes"),
        ({"group_id": " g1"}, "group_id", "printable ASCII without spaces"),
        ({"group_id": "g1 "}, "group_id", "printable ASCII without spaces"),
        ({"group_id": "g\t1"}, "group_id", "printable ASCII without spaces"),
        ({"group_id": "grüppe"}, "group_id", "printable ASCII without spaces"),
    ],
)
def test_each_limit_names_the_field_and_the_limit(change: dict[str, object], field: str, limit_text: str) -> None:
    problems = validate(replace(VALID, **change))  # type: ignore[arg-type]
    assert problems, f"{change} should be rejected"
    assert any(p.startswith(field) and limit_text in p for p in problems), problems


def test_values_exactly_at_the_limits_pass() -> None:
    row = replace(
        VALID,
        name="群" * 10,  # 30 bytes
        face_url="u" * 100,
        app_defined_data={"k" * 16: "v" * 512, **{f"k{i}": "v" for i in range(9)}},
        group_attrs={"a" * 32: "v" * 4000, **{f"k{i}": "v" * 800 for i in range(15)}},  # 16 keys, 16000 bytes
    )
    assert validate(row) == []


def test_null_and_empty_custom_values_delete_and_do_not_count() -> None:
    row = replace(VALID, app_defined_data={**{f"k{i}": "v" for i in range(10)}, "gone": None, "gone2": ""})
    assert validate(row) == []


def test_every_problem_of_a_row_is_reported() -> None:
    problems = validate(replace(VALID, name="x" * 40, apply_join_option="nope", group_attrs={"a": 1}))
    assert {p.split(":")[0].split("[")[0] for p in problems} == {"name", "apply_join_option", "group_attrs"}
