"""A saved plan's file: written whole, refused when edited, cut short, too old or another app's."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncer.errors import ConfigError
from syncer.models import FieldChange, GroupPlan
from syncer.savedplan import load_plan, plan_writer

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
