"""The settings a person tunes, in one table: each one's flag, environment variable, type, range
and default (the default is the :class:`Settings` field's own, so help and code cannot
disagree). Flags win over the environment; a bad value from either is one :class:`ConfigError`
naming both (exit 78), never argparse's usage error or a traceback."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from syncer.errors import ConfigError
from syncer.logs import FORMATS, LEVELS
from syncer.output import COLOR_MODES
from syncer.quoting import clip
from syncer.settings import Settings, parse_budget
from syncer.thresholds import Threshold

PROGRESS_STYLES = ("auto", "bar", "log", "off")

Parse = Callable[[str], Any]  # the text → the value in the setting's unit; ValueError says why not


@dataclass(frozen=True, slots=True)
class Option:
    field: str  # the Settings field it sets
    flag: str | None  # None: from the environment only
    env: str
    parse: Parse
    help: str
    group: str  # which verbs take its flag: "run" (those that call the vendor), "incremental" (run), "common" (all)
    metavar: str | None = None
    # How the default reads in --help (the field's value in the flag's unit); None: as it is.
    shown: Callable[[Any], str] | None = None
    choices: tuple[str, ...] | None = None

    @property
    def names(self) -> str:
        return f"{self.flag} ({self.env})" if self.flag else self.env

    def default_text(self) -> str:
        value = getattr(Settings(), self.field)
        if self.shown is not None:
            return self.shown(value)
        return "none" if value is None else str(value)


def _number(kind: type, *, low: float, high: float = math.inf, above: bool = False, scale: float = 1.0) -> Parse:
    def parse(text: str) -> Any:
        try:
            value = kind(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if not (value > low if above else value >= low) or value > high or value != value:
            bound = f"above {low:g}" if above else f"at least {low:g}"
            raise ValueError(f"{text!r} is out of range: {bound}" + (f", at most {high:g}" if high < math.inf else ""))
        return value * scale if scale != 1.0 else value

    return parse


def _choice(choices: tuple[str, ...]) -> Parse:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r}: expected one of {', '.join(choices)}")
        return text

    return parse


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r}: expected true or false")


def _threshold(name: str) -> Parse:
    return lambda text: Threshold.parse(text, name)


def _seconds(unit: float) -> Callable[[Any], str]:
    return lambda value: f"{value / unit:g}"


OPTIONS: tuple[Option, ...] = (
    Option(
        "max_in_flight",
        "--max-in-flight",
        "SYNCER_MAX_IN_FLIGHT",
        _number(int, low=1),
        "concurrent calls per API command",
        "run",
    ),
    Option(
        "attr_writes_per_group",
        "--attr-writes-per-group",
        "SYNCER_ATTR_WRITES_PER_GROUP",
        _number(int, low=1),
        "attribute writes per group per second",
        "run",
    ),
    Option(
        "limiter_margin_s",
        "--limiter-margin-ms",
        "SYNCER_LIMITER_MARGIN_MS",
        _number(float, low=0, scale=0.001),
        "added to each one-second window, beyond what slow answers add",
        "run",
        shown=_seconds(0.001),
    ),
    Option(
        "request_timeout_s",
        "--timeout",
        "SYNCER_TIMEOUT",
        _number(float, low=3, above=True),
        "seconds per call before giving up on it (above the vendor's own 3 s)",
        "run",
        shown=_seconds(1),
    ),
    Option(
        "max_attempts",
        "--max-attempts",
        "SYNCER_MAX_ATTEMPTS",
        _number(int, low=1),
        "attempts per call for transient errors (the first counts)",
        "run",
    ),
    Option(
        "attr_recheck_s",
        "--attr-recheck-hours",
        "SYNCER_ATTR_RECHECK_HOURS",
        _number(float, low=0, scale=3600),
        "re-read attributes confirmed longer ago",
        "run",
        shown=_seconds(3600),
    ),
    Option(
        "grace_period_s",
        "--grace-seconds",
        "SYNCER_GRACE_SECONDS",
        _number(float, low=0),
        "on SIGTERM/SIGINT, how long calls in flight may finish before they are cut",
        "run",
        shown=_seconds(1),
    ),
    Option(
        "check_attrs",
        "--check-attrs",
        "SYNCER_CHECK_ATTRS",
        _flag,
        "read every group's attributes, even those unchanged since last confirmed",
        "run",
    ),
    Option(
        "incremental",
        "--incremental",
        "SYNCER_INCREMENTAL",
        _flag,
        "read only desired rows changed since the last completed run (plus failed and new ones)",
        "incremental",
    ),
    Option(
        "full_every",
        "--full-every",
        "SYNCER_FULL_EVERY",
        _number(int, low=0),
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
        _number(int, low=1, high=65535),
        "serve /metrics on this port while running",
        "run",
        metavar="PORT",
    ),
    Option(
        "metrics_job", "--metrics-job", "SYNCER_METRICS_JOB", _text, "the Pushgateway job name", "run", metavar="JOB"
    ),
    Option(
        "progress",
        "--progress",
        "SYNCER_PROGRESS",
        _choice(PROGRESS_STYLES),
        "auto: a bar on a terminal, a log line every interval otherwise",
        "run",
        choices=PROGRESS_STYLES,
    ),
    Option(
        "progress_interval_s",
        None,
        "SYNCER_PROGRESS_INTERVAL_S",
        _number(float, low=0, above=True),
        "seconds between progress log lines",
        "run",
        shown=_seconds(1),
    ),
    Option(
        "journal_retention_days",
        None,
        "SYNCER_JOURNAL_RETENTION_DAYS",
        _number(float, low=0),
        "how long the change journal keeps what each run wrote",
        "common",
        shown=lambda v: f"{v:g}",
    ),
    Option(
        "color",
        "--color",
        "SYNCER_COLOR",
        _choice(COLOR_MODES),
        "auto: colour on a terminal unless NO_COLOR is set; always: even into a pipe; never",
        "common",
        choices=COLOR_MODES,
    ),
    Option(
        "log_level", "--log-level", "SYNCER_LOG_LEVEL", _choice(LEVELS), "how much to log", "common", choices=LEVELS
    ),
    Option(
        "log_format",
        "--log-format",
        "SYNCER_LOG_FORMAT",
        _choice(FORMATS),
        "auto: console on a terminal, JSON lines otherwise",
        "common",
        choices=FORMATS,
    ),
)
BY_FLAG = {option.flag: option for option in OPTIONS if option.flag}


def _parsed(option: Option, text: str, where: str) -> Any:
    try:
        return option.parse(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: {clip(str(exc))}") from None
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if option.env in message else f"{where}: {message}") from None


def from_env(settings: Settings, env: Mapping[str, str]) -> Settings:
    """``settings`` with each option the environment sets."""
    given: dict[str, Any] = {}
    for option in OPTIONS:
        text = env.get(option.env, "")
        if text.strip():
            given[option.field] = _parsed(
                option, text, f"{option.env} (or {option.flag})" if option.flag else option.env
            )
    return replace(settings, **given) if given else settings


def from_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """``settings`` with each option a flag gives (a flag wins over the environment)."""
    given: dict[str, Any] = {}
    values = vars(args)
    for option in OPTIONS:
        text = values.get(_dest(option))
        if text is None:
            continue
        if text is True:  # a switch given
            given[option.field] = True
            continue
        given[option.field] = _parsed(option, text, f"{option.flag} (env {option.env})")
    return replace(settings, **given) if given else settings


def _dest(option: Option) -> str:
    # Apart from any other verb's own arguments of the same name (the emulator's, say).
    return f"option_{option.field}"


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, group: str) -> None:
    """The flags of ``group``'s options, each saying its variable and default in --help."""
    for option in OPTIONS:
        if option.flag is None or option.group != group:
            continue
        tail = f"(env {option.env}; default {option.default_text()})".replace("%", "%%")  # argparse formats help
        if option.parse is _flag:
            parser.add_argument(
                option.flag,
                dest=_dest(option),
                action="store_true",
                default=None,
                help=f"{option.help.replace('%', '%%')} {tail}",
            )
        else:
            parser.add_argument(
                option.flag,
                dest=_dest(option),
                metavar=option.metavar or (option.choices and "{" + ",".join(option.choices) + "}") or "N",
                help=f"{option.help.replace('%', '%%')} {tail}",
            )
