"""A secret value (a vendor key, a database URL with its password): never shown; and how a
setting is overridden by what is given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from syncer.errors import ConfigError

T = TypeVar("T")


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def revealed(secret: Secret | None, missing: str) -> str:
    """The secret's value; :class:`ConfigError` saying ``missing`` when there is none."""
    if secret is None or not secret.reveal():
        raise ConfigError(missing)
    return secret.reveal()


def overridden(settings: T, **given: Any) -> T:
    """``settings`` (a dataclass) with each value ``given`` (None: not given, it stays)."""
    return replace(settings, **{k: v for k, v in given.items() if v is not None})  # type: ignore[type-var]


def secret_from_env(env: Mapping[str, str], name: str) -> Secret | None:
    """The secret in ``name``, or in the file ``name``_FILE names (a mounted Kubernetes Secret or
    a CSI secret store: never in the process's environment or `ps`), its trailing line break
    dropped. :class:`ConfigError` when both are set or the file cannot be read; the message names
    the variable and the file, never what it holds."""
    value, path = env.get(name), env.get(f"{name}_FILE")
    if path:
        if value:
            raise ConfigError(f"{name} and {name}_FILE are both set: keep one")
        try:
            value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{name}_FILE={path}: not UTF-8 text") from None
    return Secret(value) if value else None
