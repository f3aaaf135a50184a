"""Thresholds: parsed from a setting's text, and what each lets a run leave out of line."""

from __future__ import annotations

import pytest

from syncer.errors import ConfigError
from syncer.thresholds import Threshold


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", Threshold(count=0)),
        ("12", Threshold(count=12)),
        ("1%", Threshold(percent=1.0)),
        (" 0.5% ", Threshold(percent=0.5)),
        ("100%", Threshold(percent=100.0)),
    ],
)
def test_a_count_or_a_share(text: str, expected: Threshold) -> None:
    assert Threshold.parse(text, "SYNCER_MAX_FAILED") == expected


@pytest.mark.parametrize("text", ["", "-1", "1.5", "101%", "5 %", "five", "1e3", "%"])
def test_anything_else_is_refused_naming_the_setting(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--max-rejected="):
        Threshold.parse(text, "--max-rejected")


def test_a_share_is_of_the_groups_read_and_its_edge_is_allowed() -> None:
    one_percent = Threshold(percent=1.0)
    assert one_percent.allows(2, 200) and not one_percent.allows(3, 200)
    assert one_percent.allows(0, 0) and not one_percent.allows(1, 0)
    assert Threshold(count=0).allows(0, 10) and not Threshold(count=0).allows(1, 10)
    assert Threshold(count=3).allows(3, 1) and not Threshold(count=3).allows(4, 10_000)
    assert (str(one_percent), str(Threshold(count=3))) == ("1%", "3")
