"""What `syncer apply` holds of a saved plan before its first call: a plan of N groups (a rename
and an avatar move each, as a migration writes them) is written, then loaded in a fresh
process, which reports its peak memory and the time the load took.

    .venv/bin/python bench/plan_memory.py [--groups 200000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from syncer.models import FieldChange, GroupPlan
from syncer.savedplan import load_plan, plan_writer

VENDOR, APP = "tencent", "tencent.1400000000"


def write(path: str, groups: int) -> None:
    with plan_writer(path, vendor=VENDOR, app=APP) as writer:
        for i in range(groups):
            old_url, new_url = (
                f"https://old-cdn.example.com/avatars/{i}.png",
                f"https://cdn.example.com/avatars/{i}.png",
            )
            changes = (FieldChange("Name", f"Old name {i}", f"Team {i}"), FieldChange("FaceUrl", old_url, new_url))
            base = {"Name": f"Team {i}", "FaceUrl": new_url}
            writer.group(GroupPlan(f"grp-{i:07d}", base, None, changes, (), ("modify_group_base_info",)), "ab" * 32)


def load(path: str) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    saved = load_plan(path, vendor=VENDOR, app=APP, max_age_s=3600)
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"{len(saved.groups):,} groups loaded in {took:.2f} s; peak memory {before / 1024:.0f} → {peak / 1024:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=200_000)
    parser.add_argument("--load", metavar="PATH", help=argparse.SUPPRESS)  # the fresh process's part
    args = parser.parse_args()
    if args.load:
        load(args.load)
        return
    with tempfile.TemporaryDirectory() as scratch:
        path = str(Path(scratch) / "big.plan")
        write(path, args.groups)
        print(f"plan file: {Path(path).stat().st_size / 1e6:.1f} MB")
        subprocess.run([sys.executable, __file__, "--load", path], check=True)


if __name__ == "__main__":
    main()
