"""Which shard a group falls to: a stable hash of its ID, the same in Python and in SQL.

The hash is the first 32 bits of md5(group_id), taken modulo the shard count. md5 is stable
across Postgres versions, platforms and Python processes (unlike ``hash()`` or
``hashtextextended``), so a group stays in its shard from run to run as long as the count stays.
The SQL twin is the function syncer_shard (sql/migrations/008_shard_and_retire.sql), which
every query that picks a shard's groups uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from syncer.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ConfigError(f"shard count {self.count}: must be at least 1")
        if self.index != 0 and self.count == 1:
            raise ConfigError(f"shard index {self.index} but no shard count (an Indexed Job's completions)")
        if not 0 <= self.index < self.count:
            raise ConfigError(
                f"shard index {self.index}: must be from 0 to {self.count - 1} (shard count {self.count})"
            )

    @property
    def sharded(self) -> bool:
        return self.count > 1

    def share(self, limit: int) -> int:
        """This shard's part of a vendor-wide rate limit: the shards together stay within it."""
        return limit // self.count

    def owns(self, group_id: str) -> bool:
        return shard_of(group_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(group_id: str, count: int) -> int:
    return int(hashlib.md5(group_id.encode()).hexdigest()[:8], 16) % count


UNSHARDED = Shard()  # every group: shard 0 of 1
