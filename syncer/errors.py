"""The small error tree every edge translates its driver errors into.

Only these reach the CLI; each carries a message that is safe to print (no secrets, no URLs
with query strings) and the exit code it maps to.
"""

from __future__ import annotations


class SyncerError(Exception):
    """Base of every error syncer raises on purpose."""

    exit_code = 1


class ConfigError(SyncerError):
    """A setting is missing or malformed."""


class DatabaseError(SyncerError):
    """Postgres is unreachable or a query failed."""


class SchemaError(DatabaseError):
    """The database schema is missing or behind the migrations this version ships."""


class VendorError(SyncerError):
    """A vendor call failed for good (after retries, or with a permanent code)."""

    def __init__(self, message: str, *, code: int | None = None, command: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.command = command


class CredentialsError(VendorError):
    """The vendor refused our identity: no group can succeed, so the run stops at once."""


class RunLocked(SyncerError):
    """Another run holds the lock for this app and database: this one leaves without a call."""

    exit_code = 3


class Interrupted(Exception):
    """A stop was asked for before this call was sent. Not a failure: the group stays unrecorded
    and the next run does it."""
