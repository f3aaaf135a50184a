"""The tunable settings' table (syncer/options.py): every setting's flag and variable in --help
with the code's own default, and a bad value from either refused with one error naming both."""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys

import pytest

from syncer import __version__
from syncer.cli import build_parser, build_settings
from syncer.errors import ConfigError
from syncer.options import OPTIONS, Option
from syncer.settings import Settings, settings_from_env

# A value each option must refuse, by what it parses.
BAD = {
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
    "metrics_job": " ",
    "progress": "fancy",
    "progress_interval_s": "0",
    "journal_retention_days": "-1",
    "log_level": "loud",
    "log_format": "xml",
    "color": "rainbow",
}
# Settings given elsewhere, each in one place of its own: compound values, secrets read from
# files, or what only a run decides.
ELSEWHERE = {
    *("database_url", "schema", "desired_relation", "vendor", "tencent", "nexconn", "network", "shard"),
    *("rate_limit", "rate_limit_overrides", "targets", "target_filter", "pushgateway_url", "metrics_host"),
    *("db_connect_timeout_s", "db_statement_timeout_s", "lock_heartbeat_s", "backoff_base_s", "backoff_cap_s"),
    *("batches_in_flight", "retry_budget_ratio", "retry_budget_floor", "page_size", "record_batch_size"),
}


def test_every_setting_is_in_the_table_or_named_as_set_elsewhere() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    tabled = {o.field for o in OPTIONS}
    assert tabled | ELSEWHERE == fields, sorted(fields - tabled - ELSEWHERE)
    assert set(BAD) == tabled


def _run_flags() -> dict[str, argparse.Action]:
    """The `run` verb's flags, each with the help argparse shows for it."""
    parser = build_parser("run")
    (verbs,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {flag: action for action in verbs.choices["run"]._actions for flag in action.option_strings}


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.flag], ids=lambda o: o.field)
def test_help_shows_each_flags_variable_and_the_codes_own_default(option: Option) -> None:
    action = _run_flags()[option.flag or ""]
    shown = re.search(r"\(env (\w+); default ([^)]+)\)$", (action.help or "").replace("%%", "%"))
    assert shown is not None, action.help
    assert shown[1] == option.env
    default = getattr(Settings(), option.field)
    if shown[2] == "none":
        assert default is None
    else:
        assert option.parse(shown[2]) == default, (option.flag, shown[2], default)


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.field)
def test_a_bad_value_from_the_environment_or_a_flag_names_both(option: Option) -> None:
    bad = BAD[option.field]
    if bad.strip():  # a variable set to blanks is a variable not set
        with pytest.raises(ConfigError) as from_env:
            settings_from_env({option.env: bad})
        assert option.env in str(from_env.value)
        assert option.flag is None or option.flag in str(from_env.value)
    if option.flag is None:
        return
    if _run_flags()[option.flag].nargs == 0:
        return  # a switch takes no value: only its variable can be wrong
    args = build_parser("run").parse_args(["run", option.flag, bad])
    with pytest.raises(ConfigError) as from_flag:
        build_settings(args, {})
    assert option.flag in str(from_flag.value) and option.env in str(from_flag.value)


def test_a_flag_wins_over_the_environment_and_none_clears_a_budget() -> None:
    args = build_parser("run").parse_args(["run", "--max-attempts", "3", "--max-changes", "none", "--check-attrs"])
    settings = build_settings(args, {"SYNCER_MAX_ATTEMPTS": "5", "SYNCER_MAX_CHANGES": "500"})
    assert (settings.max_attempts, settings.max_changes, settings.check_attrs) == (3, None, True)
    from_env = build_settings(build_parser("run").parse_args(["run"]), {"SYNCER_MAX_ATTEMPTS": "5"})
    assert from_env.max_attempts == 5 and from_env.max_changes is None


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "syncer", "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, f"syncer {__version__}")
