"""The settings a person gives, in one table: each one's flag, environment variable, type, range
and default (the default is the :class:`Settings` field's own, so help and code cannot
disagree); each vendor's own come from its package (syncer/vendors.py). Flags win over the
environment; a bad value from either is one :class:`ConfigError` naming both (exit 78), never
argparse's usage error or a traceback. Secrets may come from a file (``VAR_FILE``) and are never
repeated in an error."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from syncer.errors import ConfigError
from syncer.logs import FORMATS, LEVELS
from syncer.option import Option, choice, number, seconds, secret, switch, text, url
from syncer.output import COLOR_MODES
from syncer.quoting import clip
from syncer.secret import secret_from_env
from syncer.settings import Relation, Settings, parse_budget, parse_rate_limits, parse_schema
from syncer.thresholds import Threshold
from syncer.vendors import VENDOR_OPTIONS, VENDORS

PROGRESS_STYLES = ("auto", "bar", "log", "off")


def _threshold(name: str) -> Any:
    return lambda value: Threshold.parse(value, name)


def _rate_limits(value: str) -> tuple[int | None, dict[str, int]]:
    return parse_rate_limits([spec.strip() for spec in value.split(",") if spec.strip()])


def _rate_limit_fields(settings: Settings, value: tuple[int | None, dict[str, int]]) -> dict[str, Any]:
    """A default and per-command limits: the latter added to those already set."""
    default, overrides = value
    return {
        "rate_limit": settings.rate_limit if default is None else default,
        "rate_limit_overrides": {**settings.rate_limit_overrides, **overrides},
    }


SHARED: tuple[Option, ...] = (
    Option(
        "database_url",
        "--database-url",
        "SYNCER_DATABASE_URL",
        secret(url("postgresql", "postgres", host=False)),
        "Postgres URL (prefer the variable: flags show in ps)",
        "common",
        metavar="URL",
        fallback_env=("DATABASE_URL",),
        secret=True,
    ),
    Option(
        "schema",
        "--schema",
        "SYNCER_SCHEMA",
        lambda value: parse_schema(value, "--schema (env SYNCER_SCHEMA)"),
        "the schema of syncer's own tables and views",
        "common",
        metavar="NAME",
    ),
    Option(
        "desired_relation",
        "--desired-relation",
        "SYNCER_DESIRED_RELATION",
        lambda value: Relation.parse(value, "--desired-relation (env SYNCER_DESIRED_RELATION)"),
        "the desired table or view, schema-qualified (none: the vendor's own table in schema public)",
        "common",
        metavar="SCHEMA.NAME",
    ),
    Option(
        "db_connect_timeout_s",
        None,
        "SYNCER_DB_CONNECT_TIMEOUT",
        number(float, low=0, above=True),
        "seconds to wait for a Postgres connection",
        "common",
        shown=seconds(1),
    ),
    Option(
        "db_statement_timeout_s",
        None,
        "SYNCER_DB_STATEMENT_TIMEOUT",
        number(float, low=0, above=True),
        "seconds any one Postgres statement may take (the server is told too)",
        "common",
        shown=seconds(1),
    ),
    Option(
        "vendor",
        "--vendor",
        "SYNCER_VENDOR",
        choice(VENDORS),
        "which chat vendor",
        "which-vendor",
        choices=VENDORS,
    ),
    Option(
        "rate_limit",
        "--rate-limit",
        "SYNCER_RATE_LIMIT",
        _rate_limits,
        "calls per second per API command; COMMAND=N for one command (repeat the flag, or comma-separate)",
        "run",
        metavar="[COMMAND=]N",
        shown=lambda value: "the vendor's own" if value is None else str(value),
        repeat=True,
        fields=_rate_limit_fields,
    ),
    Option(
        "shard.index",
        "--shard-index",
        "SYNCER_SHARD_INDEX",
        number(int, low=0),
        "this worker's shard, from 0 (an Indexed Job sets JOB_COMPLETION_INDEX)",
        "run",
        fallback_env=("JOB_COMPLETION_INDEX",),
    ),
    Option(
        "shard.count",
        "--shard-count",
        "SYNCER_SHARD_COUNT",
        number(int, low=1),
        "how many shards split the groups and the rate limits",
        "run",
    ),
    Option(
        "pushgateway_url",
        "--pushgateway-url",
        "SYNCER_PUSHGATEWAY_URL",
        secret(url("http", "https")),
        "push-add the run's metrics here at its end",
        "run",
        metavar="URL",
        secret=True,
    ),
    Option(
        "max_in_flight",
        "--max-in-flight",
        "SYNCER_MAX_IN_FLIGHT",
        number(int, low=1),
        "concurrent calls per API command",
        "run",
    ),
    Option(
        "attr_writes_per_group",
        "--attr-writes-per-group",
        "SYNCER_ATTR_WRITES_PER_GROUP",
        number(int, low=1),
        "attribute writes per group per second",
        "run",
    ),
    Option(
        "limiter_margin_s",
        "--limiter-margin-ms",
        "SYNCER_LIMITER_MARGIN_MS",
        number(float, low=0, scale=0.001),
        "added to each one-second window, beyond what slow answers add",
        "run",
        shown=seconds(0.001),
    ),
    Option(
        "request_timeout_s",
        "--timeout",
        "SYNCER_TIMEOUT",
        number(float, low=3, above=True),
        "seconds per call before giving up on it (above the vendor's own 3 s)",
        "run",
        shown=seconds(1),
    ),
    Option(
        "max_attempts",
        "--max-attempts",
        "SYNCER_MAX_ATTEMPTS",
        number(int, low=1),
        "attempts per call for transient errors (the first counts)",
        "run",
    ),
    Option(
        "attr_recheck_s",
        "--attr-recheck-hours",
        "SYNCER_ATTR_RECHECK_HOURS",
        number(float, low=0, scale=3600),
        "re-read attributes confirmed longer ago",
        "run",
        shown=seconds(3600),
    ),
    Option(
        "grace_period_s",
        "--grace-seconds",
        "SYNCER_GRACE_SECONDS",
        number(float, low=0),
        "on SIGTERM/SIGINT, how long calls in flight may finish before they are cut",
        "run",
        shown=seconds(1),
    ),
    Option(
        "check_attrs",
        "--check-attrs",
        "SYNCER_CHECK_ATTRS",
        switch,
        "read every group's attributes, even those unchanged since last confirmed",
        "run",
    ),
    Option(
        "incremental",
        "--incremental",
        "SYNCER_INCREMENTAL",
        switch,
        "read only desired rows changed since the last completed run (plus failed and new ones)",
        "incremental",
    ),
    Option(
        "full_every",
        "--full-every",
        "SYNCER_FULL_EVERY",
        number(int, low=0),
        "with --incremental: make every K-th run a full one (0: never)",
        "incremental",
        metavar="K",
    ),
    Option(
        "max_rejected",
        "--max-rejected",
        "SYNCER_MAX_REJECTED",
        _threshold("--max-rejected (SYNCER_MAX_REJECTED)"),
        "rejected rows and groups the vendor does not know that a run may leave and still succeed, "
        "as a count or a share of the groups read",
        "run",
        metavar="N|N%",
    ),
    Option(
        "max_failed",
        "--max-failed",
        "SYNCER_MAX_FAILED",
        _threshold("--max-failed (SYNCER_MAX_FAILED)"),
        "failed groups a run may leave and still succeed",
        "run",
        metavar="N|N%",
    ),
    Option(
        "max_changes",
        "--max-changes",
        "SYNCER_MAX_CHANGES",
        lambda text: parse_budget(text, "--max-changes (SYNCER_MAX_CHANGES)"),
        "groups a run may write to, a count or a share of its desired rows; the rest are held back and the run exits 5",
        "run",
        metavar="N|N%|none",
    ),
    Option(
        "metrics_port",
        "--metrics-port",
        "SYNCER_METRICS_PORT",
        number(int, low=1, high=65535),
        "serve /metrics on this port while running",
        "run",
        metavar="PORT",
    ),
    Option(
        "metrics_host",
        None,
        "SYNCER_METRICS_HOST",
        text,
        "the address --metrics-port listens on",
        "run",
    ),
    Option(
        "metrics_job", "--metrics-job", "SYNCER_METRICS_JOB", text, "the Pushgateway job name", "run", metavar="JOB"
    ),
    Option(
        "progress",
        "--progress",
        "SYNCER_PROGRESS",
        choice(PROGRESS_STYLES),
        "auto: a bar on a terminal, a log line every interval otherwise",
        "run",
        choices=PROGRESS_STYLES,
    ),
    Option(
        "progress_interval_s",
        None,
        "SYNCER_PROGRESS_INTERVAL_S",
        number(float, low=0, above=True),
        "seconds between progress log lines",
        "run",
        shown=seconds(1),
    ),
    Option(
        "journal_retention_days",
        "--older-than-days",
        "SYNCER_JOURNAL_RETENTION_DAYS",
        number(float, low=0),
        "how long the change journal keeps what each run wrote: `syncer prune` drops what is older",
        "prune",
        metavar="DAYS",
        shown=lambda v: f"{v:g}",
    ),
    Option(
        "color",
        "--color",
        "SYNCER_COLOR",
        choice(COLOR_MODES),
        "auto: colour on a terminal unless NO_COLOR is set; always: even into a pipe; never",
        "common",
        choices=COLOR_MODES,
    ),
    Option("log_level", "--log-level", "SYNCER_LOG_LEVEL", choice(LEVELS), "how much to log", "common", choices=LEVELS),
    Option(
        "log_format",
        "--log-format",
        "SYNCER_LOG_FORMAT",
        choice(FORMATS),
        "auto: console on a terminal, JSON lines otherwise",
        "common",
        choices=FORMATS,
    ),
)
OPTIONS: tuple[Option, ...] = (*SHARED, *VENDOR_OPTIONS)
BY_FLAG = {option.flag: option for option in OPTIONS if option.flag}


def _parsed(option: Option, value: str, where: str) -> Any:
    try:
        return option.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {clip(str(exc))}") from None
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if option.env in message else f"{where}: {message}") from None


def _from_env(option: Option, env: Mapping[str, str]) -> tuple[str, str] | None:
    """The variable that sets ``option`` (its own, else a fallback) and its text; None: unset."""
    for name in (option.env, *option.fallback_env):
        if option.secret:
            found = secret_from_env(env, name)
            value = None if found is None else found.reveal()
        else:
            value = env.get(name)
        if value is not None and value.strip():
            return name, value
    return None


def from_env(settings: Settings, env: Mapping[str, str]) -> Settings:
    """``settings`` with each option the environment sets."""
    given: dict[Option, Any] = {}
    for option in OPTIONS:
        if (found := _from_env(option, env)) is not None:
            name, value = found
            given[option] = _parsed(option, value, f"{name} (or {option.flag})" if option.flag else name)
    return _apply(settings, given)


def from_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """``settings`` with each option a flag gives (a flag wins over the environment)."""
    given: dict[Option, Any] = {}
    values = vars(args)
    for option in OPTIONS:
        value = values.get(_dest(option))
        if value is None or value == []:
            continue
        if value is True:  # a switch given
            given[option] = True
            continue
        joined = ",".join(value) if option.repeat else value
        given[option] = _parsed(option, joined, f"{option.flag} (env {option.env})")
    return _apply(settings, given)


def _apply(settings: Settings, given: Mapping[Option, Any]) -> Settings:
    """``settings`` with the values ``given``; the fields of one part (the shard) set together,
    so that its own checks see them all."""
    top: dict[str, Any] = {}
    parts: dict[str, dict[str, Any]] = {}
    for option, value in given.items():
        if option.fields is not None:
            top |= option.fields(settings, value)
            continue
        head, _, rest = option.field.partition(".")
        if rest:
            parts.setdefault(head, {})[rest] = value
        else:
            top[head] = value
    for head, fields in parts.items():
        try:
            top[head] = replace(getattr(settings, head), **fields)
        except ConfigError as exc:
            names = ", ".join(o.names for o in OPTIONS if o.field.startswith(head + "."))
            raise ConfigError(f"{names}: {exc}") from None
    return replace(settings, **top) if top else settings


def _dest(option: Option) -> str:
    # Apart from any other verb's own arguments of the same name (the emulator's, say).
    return "option_" + option.field.replace(".", "_")


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *groups: str) -> None:
    """The flags of the options of ``groups``, each saying its variable and default in --help."""
    defaults = Settings()
    for option in OPTIONS:
        if option.flag is None or option.group not in groups:
            continue
        also = "".join(f", then {name}" for name in option.fallback_env)
        if option.secret:
            also += f", or a file named in {option.env}_FILE"
        tail = f"(env {option.env}{also}; default {option.default_text(defaults)})".replace("%", "%%")
        described = f"{option.help.replace('%', '%%')} {tail}"
        if option.parse is switch:
            parser.add_argument(option.flag, dest=_dest(option), action="store_true", default=None, help=described)
        else:
            parser.add_argument(
                option.flag,
                dest=_dest(option),
                action="append" if option.repeat else "store",
                metavar=option.metavar or (option.choices and "{" + ",".join(option.choices) + "}") or "N",
                help=described,
            )
