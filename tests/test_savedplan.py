"""A saved plan's file: written whole, refused when edited, cut short, too old or another app's."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from syncer.errors import ConfigError
from syncer.models import FieldChange, GroupPlan
from syncer.savedplan import load_plan, parse_plan, plan_writer

PLAN = GroupPlan(
    "grp-1",
    {"GroupId": "grp-1", "Name": "New"},
    None,
    (FieldChange("Name", "Old", "New"),),
    (),
    ("modify_group_base_info",),
)


def _saved(tmp_path: Path) -> str:
    path = str(tmp_path / "p.plan")
    with plan_writer(path, vendor="tencent", app="tencent.1") as writer:
        writer.group(PLAN, "digest-1")
    return path


def test_a_plan_comes_back_as_it_was_written(tmp_path: Path) -> None:
    saved = load_plan(_saved(tmp_path), vendor="tencent", app="tencent.1", max_age_s=60)
    (planned,) = saved.groups.values()
    assert planned.desired_digest == "digest-1" and planned.plan.base_payload == PLAN.base_payload
    assert planned.plan.changes == PLAN.changes and planned.plan.calls == PLAN.calls
    assert planned.expected_live == {"Name": "Old"}


def test_a_plan_edited_cut_short_too_old_or_for_another_app_is_refused(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    text = Path(path).read_text()
    cases = {
        "edited": text.replace('"New"', '"Newer"', 1),
        "cut": "\n".join(text.splitlines()[:-1]) + "\n",
        "empty": "",
    }
    for body in cases.values():
        Path(path).write_text(body)
        with pytest.raises(ConfigError, match=r"^plan "):
            load_plan(path, vendor="tencent", app="tencent.1", max_age_s=60)
    Path(path).write_text(text)
    with pytest.raises(ConfigError, match=r"planned for tencent\.1, not tencent\.2"):
        load_plan(path, vendor="tencent", app="tencent.2", max_age_s=60)
    with pytest.raises(ConfigError, match="older than --max-plan-age"):
        load_plan(path, vendor="tencent", app="tencent.1", max_age_s=60, now=10**10)


def test_a_plan_that_did_not_finish_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "p.plan"
    with plan_writer(str(path), vendor="tencent", app="tencent.1") as writer:
        writer.group(PLAN, "d")
        writer.discard = True
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_a_line_of_another_shape_is_refused_at_load_even_with_its_checksum_made_to_match(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    head, group, _tail = Path(path).read_bytes().splitlines(keepends=True)
    forged = [head, group.replace(b'"changes"', b'"changed"'), b'{"group_id": "grp-2"}\n']
    for body in (forged[:2], [forged[0], forged[2]]):
        tail = {"groups": 1, "sha256": hashlib.sha256(b"".join(body)).hexdigest()}
        Path(path).write_bytes(b"".join(body) + json.dumps(tail).encode() + b"\n")
        with pytest.raises(ConfigError, match="not of a plan's shape"):
            load_plan(path, vendor="tencent", app="tencent.1", max_age_s=60)


def test_many_groups_come_back_each_as_written_from_a_file_or_from_bytes(tmp_path: Path) -> None:
    path = str(tmp_path / "p.plan")
    plans = [replace(PLAN, group_id=f"grp-{i}", changes=(FieldChange("Name", f"Old {i}", "New"),)) for i in range(50)]
    with plan_writer(path, vendor="tencent", app="tencent.1") as writer:
        for plan in plans:
            writer.group(plan, f"digest-{plan.group_id}")
    from_file = load_plan(path, vendor="tencent", app="tencent.1", max_age_s=60)
    from_bytes = parse_plan(Path(path).read_bytes(), "plan:1", vendor="tencent", app="tencent.1", max_age_s=60)
    for saved in (from_file, from_bytes):
        assert len(saved.groups) == 50 and "grp-7" in saved.groups and "grp-50" not in saved.groups
        assert [saved.groups[p.group_id].plan.changes for p in plans] == [p.changes for p in plans]
        assert saved.groups["grp-7"].desired_digest == "digest-grp-7"
