"""The small error tree every edge translates its driver errors into.

Only these reach the CLI; each carries a message that is safe to print (no secrets, no URLs
with query strings) and the exit code it maps to.
"""

from __future__ import annotations

# sysexits.h's EX_CONFIG: retrying cannot help, someone must change a setting. A Kubernetes
# podFailurePolicy fails the Job at once on it instead of retrying (deploy/kubernetes/).
EXIT_CONFIG = 78


class SyncerError(Exception):
    """Base of every error syncer raises on purpose."""

    exit_code = 1


class ConfigError(SyncerError):
    """A setting is missing or malformed."""

    exit_code = EXIT_CONFIG


class DatabaseError(SyncerError):
    """Postgres is unreachable or a query failed."""


class SchemaError(DatabaseError):
    """The database schema is missing or behind the migrations this version ships."""

    exit_code = EXIT_CONFIG  # `syncer migrate` must run first: a retry alone cannot help


class VendorError(SyncerError):
    """A vendor call failed for good (after retries, or with a permanent code)."""

    def __init__(self, message: str, *, code: int | None = None, command: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.command = command


class CredentialsError(VendorError):
    """The vendor refused our identity, or cannot be used at all: no group can succeed, so the
    run stops at once."""

    exit_code = EXIT_CONFIG


class VendorUnreachable(CredentialsError):
    """The run's first calls got no answer at all: the network or the vendor may come back, so
    a retry later may succeed (exit 1), but this run stops rather than fail every group."""

    exit_code = 1


class RunLocked(SyncerError):
    """Another run holds the lock for this app and database: this one leaves without a call."""

    exit_code = 3


class RunLockLost(SyncerError):
    """The run lock's connection went (or Postgres no longer shows the lock held): another run
    may take it, so this one stopped sending."""


class Interrupted(Exception):
    """A stop was asked for before this call was sent. Not a failure: the group stays unrecorded
    and the next run does it."""


class Malformed(ValueError):
    """A value from outside (a desired row's column, a vendor's answer) that is not of the
    documented shape. Its message names the field and quotes the value (briefly); whoever
    catches it names the group, which then fails or is rejected while every other proceeds."""


class InternalError(SyncerError):
    """Something syncer did not foresee (a bug): the run stops, recorded as failed, with one
    line naming it rather than a traceback."""
