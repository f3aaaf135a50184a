#!/usr/bin/env python3
"""Quick start on a fresh machine: needs only Python 3.11+.

    python3 dev.py demo      # a local Postgres and vendor emulator, a drifted data set, a full sync
    python3 dev.py test      # lint, type check and the test suite
    python3 dev.py coverage  # the test suite with branch coverage (subprocesses included)

Creates .venv/ beside this file on first use and installs syncer into it with its demo and
test extras; later runs reuse it. Extra arguments go to the command (`dev.py test -k limiter`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".syncer-installed"
# The suite on every core, up to four: each worker starts its own Postgres when no URL names one.
PARALLEL = ("-n", "auto", "--maxprocesses", "4")


def _python() -> str:
    return str(BIN / ("python.exe" if os.name == "nt" else "python"))


def _ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py itself may be started by an older Python
        sys.exit("syncer needs Python 3.11 or newer")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not BIN.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing syncer and its demo/test dependencies ...", flush=True)
    subprocess.run(
        [_python(), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", f"{ROOT}[demo,test]"],
        check=True,
    )
    STAMP.write_text(wanted)


def _sources() -> list[str]:
    return [p for p in ("syncer", "tests", "bench", "dev.py") if (ROOT / p).exists()]


def _run(argv: list[str]) -> int:
    return subprocess.run(argv, cwd=ROOT).returncode


def main() -> int:
    verb, *rest = sys.argv[1:] or ["help"]
    if verb not in {"demo", "test", "coverage"}:
        print(__doc__)
        return 0 if verb == "help" else 64
    _ensure_venv()
    if verb == "demo":
        return _run([_python(), "-m", "syncer", "demo", *rest])
    if verb == "coverage":
        return _run([_python(), "-m", "pytest", *PARALLEL, "--cov", "--cov-report=term", *rest])
    for step in (
        [_python(), "-m", "ruff", "check", *_sources()],
        [_python(), "-m", "ruff", "format", "--check", *_sources()],
        [_python(), "-m", "mypy"],
    ):
        if code := _run(step):
            return code
    return _run([_python(), "-m", "pytest", *PARALLEL, *rest])


if __name__ == "__main__":
    sys.exit(main())
