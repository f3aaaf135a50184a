"""The tunable settings' table (syncer/options.py): every setting's flag and variable in --help
with the code's own default, and a bad value from either refused with one error naming both."""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syncer import __version__
from syncer.cli import build_parser, build_settings
from syncer.errors import ConfigError
from syncer.option import Option
from syncer.options import BY_FLAG, OPTIONS
from syncer.settings import Settings, settings_from_env

# A value each option must refuse, by what it parses.
BAD = {
    "database_url": "mysql://app:hunter2@db/app",
    "schema": "two words",
    "desired_relation": "no_schema",
    "db_connect_timeout_s": "0",
    "db_statement_timeout_s": "forever",
    "vendor": "acme",
    "rate_limit": "get_group_info=0",
    "shard.index": "-1",
    "shard.count": "four",
    "pushgateway_url": "gateway:9091",
    "max_in_flight": "0",
    "attr_writes_per_group": "-1",
    "limiter_margin_s": "-5",
    "request_timeout_s": "3",
    "max_attempts": "0",
    "attr_recheck_s": "soon",
    "grace_period_s": "nan",
    "check_attrs": "maybe",
    "incremental": "sometimes",
    "full_every": "-1",
    "max_rejected": "lots",
    "max_failed": "200%",
    "max_changes": "-3",
    "metrics_port": "99999",
    "metrics_host": " ",
    "metrics_job": " ",
    "progress": "fancy",
    "progress_interval_s": "0",
    "journal_retention_days": "-1",
    "color": "rainbow",
    "log_level": "loud",
    "log_format": "xml",
    "tencent.sdkappid": "14000abc",
    "tencent.secret_key": " ",
    "tencent.admin": " ",
    "tencent.base_url": "console.tim.qq.com",
    "nexconn.app_key": " ",
    "nexconn.app_secret": " ",
    "nexconn.base_url": "ftp://api.example",
    "nexconn.backup_url": "https://",
}
# Settings given elsewhere: the proxy and CA variables every HTTP tool reads (syncer/network.py),
# what a run targets (--group, --where: not settings but the run's own), the per-command limits
# (with --rate-limit), and the inner workings no person needs to tune.
ELSEWHERE = {
    *("network", "rate_limit_overrides", "targets", "target_filter"),
    *("lock_heartbeat_s", "backoff_base_s", "backoff_cap_s", "batches_in_flight"),
    *("retry_budget_ratio", "retry_budget_floor", "page_size", "record_batch_size"),
    *("tencent.usersig_ttl_s", "tencent.usersig_renew_before_s"),
}
PARTS = ("tencent", "nexconn", "shard")  # set field by field


def _fields() -> set[str]:
    """Every field a person could set: Settings', its parts' by ``part.field``."""
    fields = set()
    for top in dataclasses.fields(Settings):
        if top.name in PARTS:
            fields |= {f"{top.name}.{f.name}" for f in dataclasses.fields(getattr(Settings(), top.name))}
        else:
            fields.add(top.name)
    return fields


def test_every_setting_is_in_the_table_or_named_as_set_elsewhere() -> None:
    tabled = {o.field for o in OPTIONS}
    assert tabled | ELSEWHERE == _fields(), sorted(_fields() - tabled - ELSEWHERE)
    assert set(BAD) == tabled
    assert len({o.env for o in OPTIONS}) == len(OPTIONS) and len(BY_FLAG) == len([o for o in OPTIONS if o.flag])


def _flags(verb: str = "run") -> dict[str, argparse.Action]:
    """``verb``'s flags, each with the help argparse shows for it."""
    parser = build_parser(verb)
    (verbs,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {flag: action for action in verbs.choices[verb]._actions for flag in action.option_strings}


def _verb_of(option: Option) -> str:
    return "prune" if option.group == "prune" else "run"


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.flag], ids=lambda o: o.field)
def test_help_shows_each_flags_variable_and_the_codes_own_default(option: Option) -> None:
    action = _flags(_verb_of(option))[option.flag or ""]
    shown = re.search(r"\(env (\w+)[^;]*; default (.+)\)$", (action.help or "").replace("%%", "%"))
    assert shown is not None, action.help
    assert shown[1] == option.env
    default: Any = Settings()
    for part in option.field.split("."):
        default = getattr(default, part)
    if shown[2] in ("none", "the vendor's own"):
        assert default is None
    elif option.field == "rate_limit":
        assert option.parse(shown[2]) == (default, {})
    else:
        assert option.parse(shown[2]) == default, (option.flag, shown[2], default)


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.field)
def test_a_bad_value_from_the_environment_or_a_flag_names_both(option: Option) -> None:
    bad = BAD[option.field]
    said: list[str] = []
    if bad.strip():  # a variable set to blanks is a variable not set
        with pytest.raises(ConfigError) as from_env:
            settings_from_env({option.env: bad})
        said.append(str(from_env.value))
        assert from_env.value.exit_code == 78 and option.env in said[-1]
        assert option.flag is None or option.flag in said[-1]
        assert "hunter2" not in said[-1]  # a secret's text is never repeated
    if option.flag is None:
        return
    if _flags(_verb_of(option))[option.flag].nargs == 0:
        return  # a switch takes no value: only its variable can be wrong
    args = build_parser(_verb_of(option)).parse_args([_verb_of(option), option.flag, bad])
    with pytest.raises(ConfigError) as from_flag:
        build_settings(args, {})
    said.append(str(from_flag.value))
    assert option.flag in said[-1] and option.env in said[-1] and "hunter2" not in said[-1]


def test_a_flag_wins_over_the_environment_and_none_clears_a_budget() -> None:
    args = build_parser("run").parse_args(["run", "--max-attempts", "3", "--max-changes", "none", "--check-attrs"])
    settings = build_settings(args, {"SYNCER_MAX_ATTEMPTS": "5", "SYNCER_MAX_CHANGES": "500"})
    assert (settings.max_attempts, settings.max_changes, settings.check_attrs) == (3, None, True)
    from_env = build_settings(build_parser("run").parse_args(["run"]), {"SYNCER_MAX_ATTEMPTS": "5"})
    assert from_env.max_attempts == 5 and from_env.max_changes is None


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "syncer", "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, f"syncer {__version__}")


def test_fallback_variables_files_for_secrets_and_repeated_rate_limits(tmp_path: Path) -> None:
    secret_file = tmp_path / "url"
    secret_file.write_text("postgresql://app:hunter2@db/app\n")
    from_file = settings_from_env({"SYNCER_DATABASE_URL_FILE": str(secret_file), "DATABASE_URL": "postgres://x/y"})
    assert from_file.database_url is not None and from_file.database_url.reveal() == "postgresql://app:hunter2@db/app"
    fallback = settings_from_env({"DATABASE_URL": "postgres://x/y"}).database_url
    assert fallback is not None and fallback.reveal() == "postgres://x/y"

    env = {"SYNCER_RATE_LIMIT": "150, get_group_info=100"}
    assert (settings_from_env(env).rate_limit, settings_from_env(env).rate_limit_overrides) == (
        150,
        {"get_group_info": 100},
    )
    args = build_parser("run").parse_args(["run", "--rate-limit", "set_group_attr=50", "--rate-limit", "120"])
    both = build_settings(args, env)
    assert (both.rate_limit, both.rate_limit_overrides) == (120, {"get_group_info": 100, "set_group_attr": 50})

    assert settings_from_env({"NEXCONN_BASE_URL": "http://emulator:1/"}).nexconn.backup_host is None
    assert settings_from_env({}).nexconn.backup_host == "https://api-b.sg-light-api.com"


def test_the_readme_lists_every_variable_and_flag() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [o.env for o in OPTIONS if f"`{o.env}`" not in section]
    missing += [o.flag for o in OPTIONS if o.flag and f"`{o.flag}" not in section]
    assert not missing, missing


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["status", "--runs", "-1"], "--runs: '-1' is out of range"),
        (["status", "--groups", "many"], "--groups: 'many' is not a whole number"),
        (["history", "g1", "--limit", "0"], "--limit: '0' is out of range"),
        (["apply", "p.plan", "--max-plan-age", "0"], "--max-plan-age: '0' is out of range"),
        (["revert", "abc"], "RUN_ID: 'abc' is not a whole number"),
    ],
)
def test_a_verbs_own_argument_is_refused_as_a_setting_is(argv: list[str], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)) as refused:
        build_parser(argv[0]).parse_args(argv)
    assert refused.value.exit_code == 78
