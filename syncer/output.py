"""What people read on standard output: tables and lines, as plain text off a terminal (a pipe, a
file, a CronJob's log), and through rich on one, where tables fit the width (long messages
wrapped, the least needed columns left out when even that is not enough) and status words and
plan markers are coloured. rich is imported only when it draws, so a scheduled run never loads it.

Colour follows ``--color``: ``auto`` colours on a terminal unless ``NO_COLOR`` is set (to
anything but the empty string, as https://no-color.org asks); ``always`` colours even into a pipe;
``never`` draws no escape sequence at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TextIO

if TYPE_CHECKING:
    from rich.console import Console

COLOR_MODES = ("auto", "always", "never")

Kind = Literal["text", "number", "status", "message"]
Cell = str | int | None

# Status and outcome words, and plan markers, by what they mean to the reader.
STYLES: Mapping[str, str] = {
    "succeeded": "green",
    "in_sync": "green",
    "updated": "green",
    "applied": "green",
    "up to date": "green",
    "ok": "green",
    "running": "cyan",
    "partial": "yellow",
    "held_back": "yellow",
    "stale": "yellow",
    "pending": "yellow",
    "reverted": "blue",
    "interrupted": "magenta",
    "failed": "bold red",
    "rejected": "red",
    "not_found": "red",
}
MARKERS: Mapping[str, str] = {"+": "green", "-": "red", "~": "yellow", "!": "magenta"}


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    # number: right-aligned with thousands separators; status: coloured by its word; message:
    # wrapped on a terminal, never cut.
    kind: Kind = "text"
    # On a terminal too narrow for the table, the columns of the highest rank are left out
    # first; 0: always shown.
    drop_rank: int = 0


@dataclass(frozen=True, slots=True)
class Table:
    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]]
    header: bool = True
    indent: int = 0
    # A row's style on a terminal (a rich style: "red"), by row; None: the columns' own.
    row_styles: Sequence[str | None] = ()


def cell_text(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return value


def plain_table(table: Table) -> list[str]:
    """The table as aligned text: numbers right-aligned, the rest left; nothing cut."""
    texts = [[cell_text(v) for v in row] for row in table.rows]
    shown = [[c.header for c in table.columns]] * table.header + texts
    widths = [max((len(r[i]) for r in shown), default=0) for i in range(len(table.columns))]
    lines = []
    for line in shown:
        cells = [
            text.rjust(width) if column.kind == "number" else text.ljust(width)
            for text, width, column in zip(line, widths, table.columns, strict=True)
        ]
        lines.append((" " * table.indent + "  ".join(cells)).rstrip())
    return lines


class Terminalish(Protocol):
    def isatty(self) -> bool: ...


def use_color(mode: str, stream: Terminalish, env: Mapping[str, str]) -> bool:
    if mode == "never":
        return False
    if mode == "always":
        return True
    return stream.isatty() and not env.get("NO_COLOR")


class Output:
    """Standard output for people: :meth:`line` and :meth:`table`, drawn for where it goes."""

    def __init__(self, stream: TextIO, color: str = "auto", env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.stream = stream
        self.color = use_color(color, stream, env)
        self.rich = self.color or stream.isatty()  # drawn through rich: fitted to a width
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(
                file=self.stream,
                force_terminal=self.color,
                color_system="auto" if self.color else None,
                highlight=False,
                emoji=False,
                markup=False,
            )
        return self._console

    def line(self, text: str = "", style: str | None = None) -> None:
        self.stream.write((self.paint(text, style) if style else text) + "\n")

    def paint(self, text: str, style: str | None) -> str:
        """``text`` in ``style`` (a rich style, "bold red"), when colour is on."""
        if not (style and self.color):
            return text
        # Rendered straight to escape sequences: through the console's print, each line of a
        # long plan would cost a hundred times more.
        from rich.console import COLOR_SYSTEMS
        from rich.style import Style

        system = COLOR_SYSTEMS.get(self.console.color_system or "standard")
        return Style.parse(style).render(text, color_system=system)

    def lines(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.line(text)

    def styled(self, text: str, word: str) -> str:
        """``text`` in the colour of ``word`` (a status or outcome), when colour is on."""
        return self.paint(text, STYLES.get(word))

    def plan_line(self, text: str) -> None:
        """A plan's line, its ``+ ~ - !`` marker coloured."""
        marker = text.lstrip()[:2]
        style = MARKERS.get(marker[0]) if len(marker) == 2 and marker[1] == " " else None
        self.line(text.rstrip("\n"), style)

    def table(self, table: Table) -> None:
        if not self.rich:
            self.lines(plain_table(table))
            return
        self._rich_table(table)

    def _rich_table(self, table: Table) -> None:
        from rich.padding import Padding
        from rich.table import Table as RichTable
        from rich.text import Text

        console = self.console
        columns = list(table.columns)
        texts = [[cell_text(v) for v in row] for row in table.rows]
        shown = _fitting(columns, texts, console.width - table.indent)
        grid = RichTable(
            box=None,
            show_edge=False,
            pad_edge=False,
            show_header=table.header,
            header_style="bold" if self.color else "",
        )
        for i in shown:
            column = columns[i]
            grid.add_column(
                column.header,
                justify="right" if column.kind == "number" else "left",
                no_wrap=column.kind != "message",
                overflow="fold",
            )
        for n, row in enumerate(texts):
            cells = []
            for i in shown:
                text = row[i]
                style = STYLES.get(text, "") if columns[i].kind == "status" and self.color else ""
                cells.append(Text(text, style=style))
            row_style = table.row_styles[n] if n < len(table.row_styles) else None
            grid.add_row(*cells, style=row_style if self.color else None)
        console.print(Padding(grid, (0, 0, 0, table.indent), expand=False) if table.indent else grid, crop=False)
        left_out = [columns[i].header for i in range(len(columns)) if i not in shown]
        if left_out:
            note = f"(not shown at this width: {', '.join(left_out)}; --json has them)"
            console.print(Text(note, style="dim" if self.color else ""))


_MESSAGE_MIN = 24  # a message column wraps down to this width before any column is left out


def _fitting(columns: Sequence[Column], texts: Sequence[Sequence[str]], width: int) -> list[int]:
    """The indices of the columns to show within ``width``: all if they fit, else without the
    highest-ranked droppable ones, a message column counted at the width it may wrap down to."""

    def need(index: int) -> int:
        natural = max(len(columns[index].header), *(len(row[index]) for row in texts))
        return min(natural, _MESSAGE_MIN) if columns[index].kind == "message" else natural

    shown = list(range(len(columns)))
    droppable = sorted((c.drop_rank, i) for i, c in enumerate(columns) if c.drop_rank)
    while sum(need(i) for i in shown) + 2 * (len(shown) - 1) > width and droppable:
        shown.remove(droppable.pop()[1])
    return shown
