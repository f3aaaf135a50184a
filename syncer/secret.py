"""A secret value (a vendor key, a database URL with its password): never shown; and how a
setting is overridden by what is given."""

from __future__ import annotations

from dataclasses import replace
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
