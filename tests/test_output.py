"""Standard output for people (syncer/output.py): plain off a terminal, fitted and coloured on one,
and no escape sequence at all when colour is off."""

from __future__ import annotations

import io
import re

import pyte
import pytest

from syncer.output import Column, Output, Table, plain_table

ESCAPE = re.compile(r"\x1b\[")


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal ``columns`` wide (rich reads COLUMNS for the width)."""

    def isatty(self) -> bool:
        return True


TABLE = Table(
    (Column("RUN", "number"), Column("STATUS", "status"), Column("READ", "number"), Column("NOTE", drop_rank=1)),
    [("7", "partial", 12_345, "x" * 30), ("12", "succeeded", 5, None)],
)


def test_plain_numbers_right_aligned_with_separators_and_nothing_cut() -> None:
    assert plain_table(TABLE) == [
        "RUN  STATUS       READ  NOTE",
        "  7  partial    12,345  " + "x" * 30,
        " 12  succeeded       5  -",
    ]


def test_off_a_terminal_plain_text_whatever_the_width() -> None:
    out = io.StringIO()
    Output(out, "auto", env={}).table(TABLE)
    assert out.getvalue().splitlines() == plain_table(TABLE)


@pytest.mark.parametrize(("mode", "env"), [("auto", {"NO_COLOR": "1"}), ("never", {})])
def test_no_color_and_never_draw_no_escape_sequence_on_a_terminal(mode: str, env: dict[str, str]) -> None:
    out = FakeTerminal()
    output = Output(out, mode, env=env)
    output.table(TABLE)
    output.plan_line("      + key = 'v'")
    output.line("bold", "bold")
    assert not ESCAPE.search(out.getvalue()), out.getvalue()


def test_always_colours_even_into_a_pipe_status_words_and_plan_markers() -> None:
    out = io.StringIO()
    output = Output(out, "always", env={"NO_COLOR": "1"})  # the flag is the later, narrower word
    output.table(TABLE)
    for line in ("~ grp-1", "      + tier = 'gold'", "      - legacy", "    ! a warning", "    Name: 'a' → 'b'"):
        output.plan_line(line)
    screen = pyte.Screen(60, 12)
    pyte.Stream(screen).feed(out.getvalue().replace("\n", "\r\n"))
    rows = [line.rstrip() for line in screen.display]
    partial = next(n for n, line in enumerate(rows) if "partial" in line)
    assert screen.buffer[partial][rows[partial].index("partial")].fg == "brown"  # pyte's name for yellow
    marks = {row.strip()[0]: screen.buffer[n][len(row) - len(row.lstrip())].fg for n, row in enumerate(rows[3:8], 3)}
    assert marks == {"~": "brown", "+": "green", "-": "red", "!": "magenta", "N": "default"}


def test_a_narrow_terminal_leaves_out_the_droppable_columns_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    out = FakeTerminal()
    Output(out, "never", env={}).table(TABLE)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "READ"]
    note = " ".join(line.strip() for line in lines[3:])
    assert all(len(line) <= 30 for line in lines) and note == "(not shown at this width: NOTE; --json has them)"
    monkeypatch.setenv("COLUMNS", "80")
    wide = FakeTerminal()
    Output(wide, "never", env={}).table(TABLE)
    assert wide.getvalue().splitlines()[0].split() == ["RUN", "STATUS", "READ", "NOTE"]


def test_a_message_wraps_on_a_terminal_and_stays_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    message = "group 'g-1': name: 33 bytes, over the limit of 30 bytes; check the desired row"
    out = FakeTerminal()
    Output(out, "never", env={}).table(Table((Column("GROUP"), Column("ERROR", "message")), [("g-1", message)]))
    lines = out.getvalue().splitlines()
    assert len(lines) > 2 and all(len(line) <= 40 for line in lines)
    start = lines[0].index("ERROR")
    assert " ".join(line[start:].strip() for line in lines[1:]) == message
