"""The `syncer` command as users and their scripts run it: a real subprocess, its exit codes,
its output, and what never appears in it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from syncer.emulator.server import Emulator
from syncer.tencent.seeding import desired_group, live_from_desired

from .helpers import fetch, load_desired, mismatches, seeded, summary_line


@dataclass
class Result:
    code: int
    out: str
    err: str


async def start_syncer(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`python -m syncer ARGS` with ``env`` over this environment less syncer's own settings."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "syncer",
        *args,
        env={k: v for k, v in os.environ.items() if not k.startswith(("SYNCER_", "TENCENT_IM_"))} | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def syncer(*args: str, env: dict[str, str]) -> Result:
    process = await start_syncer(*args, env=env)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def environment(db_url: str, emulator: Emulator) -> dict[str, str]:
    return {
        "SYNCER_DATABASE_URL": db_url,
        "TENCENT_IM_SDKAPPID": str(emulator.config.sdkappid),
        "TENCENT_IM_SECRET_KEY": emulator.config.secret_key,
        "TENCENT_IM_BASE_URL": emulator.base_url,
    }


async def test_migrate_then_run_then_an_invalid_row_within_and_over_its_threshold(
    fresh_db: str, emulator: Emulator
) -> None:
    env = environment(fresh_db, emulator)
    refused = await syncer("run", env=env)
    assert refused.code == 78  # EX_CONFIG: migrate first; a retry alone cannot help
    assert "syncer migrate" in refused.err
    assert emulator.log == []

    first = await syncer("migrate", env=env)
    assert first.code == 0 and "applied 001_initial" in first.out
    again = await syncer("migrate", env=env)
    assert again.code == 0 and "nothing to do" in again.out

    data = await seeded(fresh_db, emulator, 200, seed=11)
    ok = await syncer("run", env=env)
    assert ok.code == 0, ok.err
    assert summary_line(ok.out, "groups read")[0] == 200
    assert summary_line(ok.out, "changed")[0] == len(data.drifted)
    assert mismatches(data.desired, emulator) == []

    await load_desired(fresh_db, [replace(desired_group(900), name="x" * 40)])
    # One rejected row of 201 is within the default threshold (1 %): the run succeeds, and says so.
    within = await syncer("run", "--json", env=env)
    totals = json.loads(within.out)["totals"]
    assert within.code == 0 and (totals["rejected"], totals["status"]) == (1, "succeeded"), within.err
    assert '"troubled_groups_within_thresholds"' in within.err
    partial = await syncer("run", "--json", "--max-rejected", "0", env=env)
    assert partial.code == 2
    totals = json.loads(partial.out)["totals"]
    assert (totals["rejected"], totals["in_sync"], totals["status"]) == (1, 200, "partial")
    rejection = [json.loads(line) for line in partial.err.splitlines() if '"group_rejected"' in line]
    assert (
        rejection
        and "grp-0000900" in rejection[0]["error"]
        and "name: 40 bytes, limit 30 bytes" in rejection[0]["error"]
    )


async def test_plan_json_lists_changes_and_sends_no_write(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 100, seed=12)
    result = await syncer("plan", "--json", env=environment(db, emulator))
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    totals, groups = lines[0]["totals"], lines[1:]  # totals first: readable at a glance
    assert {g["group_id"] for g in groups} == data.drifted
    assert totals["would_change"] == len(data.drifted)
    assert all(g["changes"] and all({"field", "old", "new"} <= set(c) for c in g["changes"]) for g in groups)
    assert {r.command for r in emulator.log} <= {"get_group_info", "get_group_attr"}


async def test_configuration_errors_exit_78_and_name_the_setting(db: str, emulator: Emulator) -> None:
    env = environment(db, emulator)
    no_key = await syncer("run", env={k: v for k, v in env.items() if k != "TENCENT_IM_SECRET_KEY"})
    assert no_key.code == 78 and "TENCENT_IM_SECRET_KEY" in no_key.err
    await load_desired(db, [desired_group(1)])
    wrong_key = await syncer("run", env=env | {"TENCENT_IM_SECRET_KEY": "f" * 64})
    assert wrong_key.code == 78 and "TENCENT_IM_SECRET_KEY" in wrong_key.err
    no_db = await syncer("run", env=env | {"SYNCER_DATABASE_URL": "postgresql://syncer:hunter2@127.0.0.1:1/none"})
    assert no_db.code == 1 and "cannot connect to Postgres" in no_db.err
    assert "hunter2" not in no_db.err + no_db.out
    bad_timeout = await syncer("run", "--timeout", "2", env=env)
    assert bad_timeout.code == 78 and "--timeout" in bad_timeout.err


async def test_a_debug_run_never_shows_the_key_or_a_usersig(db: str, emulator: Emulator) -> None:
    await seeded(db, emulator, 60, seed=13, invalid=2)
    emulator.config.fault_502 = 0.2  # errors and retries get logged too
    result = await syncer("run", "--log-level", "debug", env=environment(db, emulator))
    assert result.code == 2
    output = result.out + result.err
    assert "call_retry" in output  # the debug log really ran
    assert emulator.config.secret_key not in output
    assert "usersig" not in output.lower()
    assert "TLS.sig" not in output and "eJ" not in output  # no UserSig (zlib+base64 starts with eJ)


async def test_migrate_status_exits_2_while_there_is_something_to_do_and_changes_nothing(
    fresh_db: str, emulator: Emulator
) -> None:
    env = environment(fresh_db, emulator)
    before = await syncer("migrate", "--status", env=env)
    assert before.code == 2, before
    lines = before.out.splitlines()
    assert any(line.startswith("001_initial") and line.split()[1] == "pending" for line in lines), before.out
    assert "tencent desired view: not built yet" in before.out
    assert (await syncer("migrate", "--status", env=env)).code == 2  # it changed nothing
    assert (await syncer("migrate", env=env)).code == 0
    after = await syncer("migrate", "--status", env=env)
    assert after.code == 0 and "pending" not in after.out and "tencent desired view: up to date" in after.out


async def test_history_shows_a_groups_journal_status_counts_it_and_prune_drops_it(db: str, emulator: Emulator) -> None:
    row = desired_group(5)
    emulator.seed([live_from_desired(replace(row, name="Old name"))])
    await load_desired(db, [row])
    env = environment(db, emulator)
    assert (await syncer("run", env=env)).code == 0

    shown = await syncer("history", row.group_id, env=env)
    assert shown.code == 0 and "Name" in shown.out and "'Old name' → 'Team 5'" in shown.out, shown.out
    (line,) = (await syncer("history", row.group_id, "--json", env=env)).out.splitlines()
    entry = json.loads(line)
    assert (entry["field"], entry["before"], entry["after"], entry["outcome"]) == (
        "Name",
        "Old name",
        "Team 5",
        "applied",
    )
    status = json.loads((await syncer("status", "--json", env=env)).out)
    assert status["runs"][0]["journaled"] == 1

    kept = await syncer("prune", env=env)  # the default retention keeps today's change
    assert kept.code == 0 and "pruned 0 " in kept.out
    pruned = await syncer("prune", "--older-than-days", "0", env=env)
    assert pruned.code == 0 and "pruned 1 " in pruned.out
    assert "no change journaled" in (await syncer("history", row.group_id, env=env)).out
    refused = await syncer("prune", env=env | {"SYNCER_JOURNAL_RETENTION_DAYS": "soon"})
    assert (
        refused.code == 78
        and "SYNCER_JOURNAL_RETENTION_DAYS (or --older-than-days): 'soon' is not a number" in refused.err
    )


async def test_a_plan_reads_like_terraforms_and_its_detailed_exit_code_gates_ci(db: str, emulator: Emulator) -> None:
    # 40 groups as a new user would have them: 3 renames, 10 avatars moved, one attribute set
    # changed, one invalid row.
    rows = [desired_group(i) for i in range(40)]
    live = [live_from_desired(r) for r in rows]
    for g in live[:3]:
        g.name = f"Old {g.group_id}"
    for g in live[10:20]:
        g.face_url = g.face_url.replace("cdn.example.com", "old-cdn.example.com")
    live[30].attrs = {"topic": "stale", "legacy": "1"}
    emulator.seed(live)
    await load_desired(db, [*rows, replace(desired_group(99), name="x" * 40)])
    env = environment(db, emulator)

    plan = await syncer("plan", "--detailed-exitcode", env=env)
    assert plan.code == 2, plan.err  # changes pending
    text = plan.out
    assert summary_line(text, "would change")[0] == 14
    assert text.index("would change") < text.index("changes by field") < text.index("~ grp-0000000")
    assert "  FaceUrl    " in text and "  Name       " in text and "  GroupAttr  " in text
    by_field = dict(line.split() for line in text.split("changes by field (groups)\n")[1].split("\n\n")[0].splitlines())
    assert by_field == {"FaceUrl": "10", "Name": "3", "GroupAttr": "1"}
    assert "    Name: 'Old grp-0000000' → 'Team 0'" in text
    assert "    GroupAttr:\n      + lang = 'en'\n      - legacy\n      ~ topic: 'stale' → 'topic-13'" in text
    assert "not planned (1)" in text and "grp-0000099" in text.split("not planned")[1]
    assert {r.command for r in emulator.log} <= {"get_group_info", "get_group_attr"}
    coloured = (await syncer("plan", "--color", "always", env=env)).out
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured).split("changes by field")[1] == text.split("changes by field")[1]
    for marker, colour in (("~ grp-0000000", 33), ("+ lang", 32), ("- legacy", 31)):  # yellow, green, red
        assert re.search(rf"\x1b\[{colour}m *{re.escape(marker)}", coloured), marker

    as_json = await syncer("plan", "--json", "--detailed-exitcode", env=env)
    lines = [json.loads(line) for line in as_json.out.splitlines()]
    assert as_json.code == 2 and lines[0]["by_field"] == {"FaceUrl": 10, "Name": 3, "GroupAttr": 1}
    assert lines[0]["totals"]["would_change"] == 14
    assert [line["group_id"] for line in lines if line.get("outcome") == "rejected"] == ["grp-0000099"]

    assert (await syncer("run", "--max-rejected", "1", env=env)).code == 0
    again = await syncer("plan", "--detailed-exitcode", env=env)
    assert again.code == 0 and "changes by field" not in again.out  # nothing left to change


async def test_plan_out_then_apply_sends_the_plan_and_refuses_an_edited_one(
    db: str, emulator: Emulator, tmp_path: Path
) -> None:
    rows = [desired_group(i) for i in range(12)]
    emulator.seed([live_from_desired(replace(r, name=f"Old {r.group_id}")) for r in rows])
    await load_desired(db, rows)
    env = environment(db, emulator)
    path = str(tmp_path / "rename.plan")
    planned = await syncer("plan", "--out", path, env=env)
    assert planned.code == 0 and "saved the plan of 12 groups" in planned.err
    canary = await syncer("apply", path, "--group", rows[1].group_id, "--group", rows[2].group_id, "--json", env=env)
    assert canary.code == 0 and json.loads(canary.out)["totals"]["updated"] == 2
    outside = await syncer("apply", path, "--group", "grp-0000099", env=env)
    assert outside.code == 78 and "not in the plan" in outside.err
    # A desired row changes after the review: its group is stale, the other 9 get the plan, and
    # the canary's two are found applied already.
    await load_desired(db, [replace(desired_group(99), name="new row")])
    await fetch(db, "UPDATE desired_group_profiles SET name = 'Team 4 bis' WHERE group_id = $1", rows[4].group_id)
    emulator.log.clear()
    applied = await syncer("apply", path, "--json", env=env)
    totals = json.loads(applied.out)["totals"]
    assert applied.code == 2 and (totals["updated"], totals["stale"], totals["in_sync"]) == (9, 1, 2)
    assert totals["mode"] == "apply"
    assert emulator.groups[rows[4].group_id].name == f"Old {rows[4].group_id}"  # not written
    assert "grp-0000099" not in {g for r in emulator.log for g in r.group_ids}  # not planned, not read

    edited = tmp_path / "edited.plan"
    edited.write_text(Path(path).read_text().replace("Team 1", "Team One"))  # noqa: ASYNC240 - a small file
    emulator.log.clear()
    refused = await syncer("apply", str(edited), env=env)
    assert refused.code == 78 and "checksum does not match" in refused.err and emulator.log == []


async def test_revert_shows_its_plan_then_writes_back_a_run(db: str, emulator: Emulator) -> None:
    row = desired_group(7)
    emulator.seed([live_from_desired(replace(row, name="Old name"))])
    await load_desired(db, [row])
    env = environment(db, emulator)
    ran = json.loads((await syncer("run", "--json", env=env)).out)["totals"]
    assert emulator.groups[row.group_id].name == "Team 7"
    shown = await syncer("revert", str(ran["run_id"]), "--plan", env=env)
    assert shown.code == 0 and "~ grp-0000007\n    Name: 'Team 7' → 'Old name'" in shown.out
    assert emulator.groups[row.group_id].name == "Team 7"  # --plan sends nothing
    reverted = await syncer("revert", str(ran["run_id"]), "--json", env=env)
    totals = json.loads(reverted.out)["totals"]
    assert reverted.code == 0 and (totals["mode"], totals["reverted"]) == ("revert", 1)
    assert emulator.groups[row.group_id].name == "Old name"
    status = await syncer("status", env=env)
    assert "reverted" in status.out and row.group_id in status.out  # listed, held


async def test_a_plan_saved_in_postgres_is_applied_by_its_id(db: str, emulator: Emulator) -> None:
    rows = [desired_group(i) for i in range(5)]
    emulator.seed([live_from_desired(replace(r, name=f"Old {r.group_id}")) for r in rows])
    await load_desired(db, rows)
    env = environment(db, emulator)
    planned = await syncer("plan", "--save", env=env)
    match = re.search(r"as plan:(\d+)", planned.err)
    assert planned.code == 0 and match is not None, planned.err
    applied = await syncer("apply", f"plan:{match[1]}", "--json", env=env)
    assert applied.code == 0 and json.loads(applied.out)["totals"]["updated"] == 5
    assert [g.name for g in emulator.groups.values()] == [r.name for r in rows]
    missing = await syncer("apply", "plan:999999", env=env)
    assert missing.code == 78 and "no such saved plan" in missing.err


async def test_secrets_can_come_from_files_and_are_never_shown(db: str, emulator: Emulator, tmp_path: Path) -> None:
    emulator.seed([live_from_desired(desired_group(1))])
    await load_desired(db, [desired_group(1)])
    key_file, db_file = tmp_path / "key", tmp_path / "db"
    key_file.write_text(emulator.config.secret_key + "\n")
    db_file.write_text(db + "\n")
    env = {
        k: v for k, v in environment(db, emulator).items() if k not in ("TENCENT_IM_SECRET_KEY", "SYNCER_DATABASE_URL")
    }
    files = env | {"TENCENT_IM_SECRET_KEY_FILE": str(key_file), "SYNCER_DATABASE_URL_FILE": str(db_file)}
    ran = await syncer("run", env=files)
    assert ran.code == 0, ran.err
    both = await syncer("run", env=files | {"TENCENT_IM_SECRET_KEY": "f" * 64})
    assert both.code == 78 and "TENCENT_IM_SECRET_KEY and TENCENT_IM_SECRET_KEY_FILE are both set" in both.err
    missing = await syncer("run", env=files | {"TENCENT_IM_SECRET_KEY_FILE": str(tmp_path / "nowhere")})
    assert missing.code == 78 and "TENCENT_IM_SECRET_KEY_FILE=" in missing.err and "No such file" in missing.err
    for result in (ran, both, missing):
        assert emulator.config.secret_key not in result.out + result.err


async def test_the_summary_says_what_the_retries_and_the_failures_were(db: str, emulator: Emulator) -> None:
    data = await seeded(db, emulator, 300, seed=12)
    broken = [row.group_id for row in data.desired[:2]]
    emulator.config.group_faults = dict.fromkeys(broken, 80001)
    emulator.config.fault_502 = 0.1
    emulator.config.fault_10002 = 0.1
    env = environment(db, emulator) | {"SYNCER_MAX_FAILED": "5"}
    done = await syncer("run", "--json", env=env)
    assert done.code == 0, done.err
    totals = json.loads(done.out)["totals"]
    assert totals["failures_by_cause"] == {"80001": 2}
    by_cause = totals["retries_by_cause"]
    assert set(by_cause) == {"http_502", "10002"} and sum(by_cause.values()) == totals["retries"] > 0

    emulator.config.fault_502 = emulator.config.fault_10002 = 0.0
    text = await syncer("run", env=env)
    assert summary_line(text.out, "failed") == (2, "(80001 2)")
    assert summary_line(text.out, "retries") == (0, ""), text.out
