"""One setting a person gives: its flag, its environment variable, how its text is read and
checked, and where in :class:`~syncer.settings.Settings` it goes. The table of them all is
syncer/options.py; each vendor's own are in its package."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from syncer.quoting import clip
from syncer.secret import Secret

Parse = Callable[[str], Any]  # the text → the value in the setting's unit; ValueError says why not


@dataclass(frozen=True, slots=True)
class Option:
    # Where the value goes: a Settings field, or a field of one of its parts ("tencent.admin").
    field: str
    flag: str | None  # None: from the environment only
    env: str
    parse: Parse
    help: str
    # Which verbs take its flag: "common" (all), "run" (those that call the vendor),
    # "incremental" (run), "vendor" (the vendor and its app: those that call it, and check),
    # "which-vendor" (--vendor alone: migrate, history), "prune".
    group: str
    metavar: str | None = None
    # How the default reads in --help (the field's value in the flag's unit); None: as it is.
    shown: Callable[[Any], str] | None = None
    choices: tuple[str, ...] | None = None
    # Read when ``env`` is not set, in order (DATABASE_URL, Kubernetes' JOB_COMPLETION_INDEX).
    fallback_env: tuple[str, ...] = ()
    # A secret: also read from the file ``env``_FILE names; an error never repeats its text.
    secret: bool = False
    # A flag given more than once adds to the list (the variable: comma-separated).
    repeat: bool = False
    # The Settings fields its value sets, given the settings so far; None: ``field``, to the value.
    fields: Callable[[Any, Any], dict[str, Any]] | None = None

    @property
    def names(self) -> str:
        """``--flag (env VAR)``, as an error message names the setting."""
        return f"{self.flag} (env {self.env})" if self.flag else self.env

    def default_text(self, defaults: Any) -> str:
        """How ``defaults``' (a Settings') value of this option reads in --help."""
        value = defaults
        for part in self.field.split("."):
            value = getattr(value, part)
        if self.shown is not None:
            return self.shown(value)
        return "none" if value is None else str(value)


def number(kind: type, *, low: float, high: float = math.inf, above: bool = False, scale: float = 1.0) -> Parse:
    def parse(text: str) -> Any:
        try:
            value = kind(text.strip())
        except ValueError:
            raise ValueError(f"{clip(text)!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if not (value > low if above else value >= low) or value > high or value != value:
            bound = f"above {low:g}" if above else f"at least {low:g}"
            raise ValueError(f"{text!r} is out of range: {bound}" + (f", at most {high:g}" if high < math.inf else ""))
        return value * scale if scale != 1.0 else value

    return parse


def choice(choices: tuple[str, ...]) -> Parse:
    def parse(text: str) -> str:
        if text.strip() not in choices:
            raise ValueError(f"{clip(text)!r}: expected one of {', '.join(choices)}")
        return text.strip()

    return parse


def text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def switch(value: str) -> bool:
    word = value.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{clip(value)!r}: expected true or false")


def url(*schemes: str, host: bool = True) -> Parse:
    """A URL of one of ``schemes`` (with a host, if ``host``), its trailing slash dropped. An
    error shows no more of it than its scheme and host (it may carry a credential)."""

    def parse(value: str) -> str:
        try:
            parts = urlsplit(value.strip())
            hostname = parts.hostname
        except ValueError:
            raise ValueError("not a URL") from None
        if parts.scheme not in schemes or (host and not hostname):
            shown = f"{parts.scheme}://{hostname or ''}" if parts.scheme else "it"
            wanted = " or ".join(s + "://" for s in schemes)
            raise ValueError(f"{shown} is not a {wanted} URL" + (" with a host" if host else ""))
        return value.strip().rstrip("/")

    return parse


def secret(parse: Parse) -> Parse:
    """``parse``'s value kept as a :class:`Secret`."""
    return lambda value: Secret(parse(value))


def seconds(unit: float) -> Callable[[Any], str]:
    """How a value in seconds reads in ``unit`` (3600: hours)."""
    return lambda value: f"{value / unit:g}"
