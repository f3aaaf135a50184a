"""What drawing for a terminal costs: a plan's lines coloured through rich's console against
escape sequences rendered once per style (syncer/output.py), and `import syncer.cli` with rich
installed (structlog loads it for its console renderer, whether syncer draws or not).

    .venv/bin/python bench/terminal_cost.py [--lines 10000]
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import time

from rich.console import COLOR_SYSTEMS, Console
from rich.style import Style
from rich.text import Text


def _import_ms(repeat: int) -> tuple[float, float]:
    """The least of ``repeat`` measures of `import syncer.cli`, and of rich's part in it (ms)."""
    totals, riches = [], []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import syncer.cli"], capture_output=True, text=True, check=True
        )
        rows = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
        own = {row[2].strip(): int(row[0].split(":")[1]) for row in rows[1:]}
        totals.append(int(next(row[1] for row in rows if row[2].strip() == "syncer.cli")) / 1000)
        riches.append(
            sum(us for name, us in own.items() if re.match(r"(rich|pygments|markdown_it|mdurl)\b", name)) / 1000
        )
    return min(totals), min(riches)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lines = [f"      + key{i} = 'value {i}'" for i in range(args.lines)]

    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", highlight=False)
    started = time.perf_counter()
    for line in lines:
        console.print(Text(line, style="green"))
    through_console = time.perf_counter() - started

    out = io.StringIO()
    style, system = Style.parse("green"), COLOR_SYSTEMS["truecolor"]
    started = time.perf_counter()
    for line in lines:
        out.write(style.render(line, color_system=system) + "\n")
    rendered_once = time.perf_counter() - started

    total_ms, rich_ms = _import_ms(args.repeat)
    coloured = f"console.print {through_console:.3f} s, escape sequences {rendered_once:.4f} s"
    print(f"{args.lines:,} plan lines coloured: {coloured}")
    print(f"import syncer.cli: {total_ms:.0f} ms (least of {args.repeat}), rich and its imports {rich_ms:.0f} ms of it")


if __name__ == "__main__":
    main()
