"""How many troubled groups a run may leave and still succeed: a count, or a share of the groups
it read. A scheduled run should fail for what needs a person now (the vendor or the data broken
at scale), not for one bad row a team fixes at its own pace (a metric pages on those)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from syncer.errors import ConfigError
from syncer.quoting import clip

_THRESHOLD = re.compile(r"(\d+(?:\.\d+)?)(%?)")


@dataclass(frozen=True, slots=True)
class Threshold:
    """At most ``count`` groups, or (``percent`` set) at most that share of the groups read."""

    count: int = 0
    percent: float | None = None

    def allows(self, groups: int, read: int) -> bool:
        if self.percent is None:
            return groups <= self.count
        return groups * 100 <= read * self.percent

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)

    @classmethod
    def parse(cls, text: str, setting: str) -> Threshold:
        """``N`` (groups) or ``N%`` (of the groups read, 0 to 100); :class:`ConfigError` naming
        ``setting`` otherwise."""
        match = _THRESHOLD.fullmatch(text.strip())
        if match is None:
            raise ConfigError(f"{setting}={clip(text)}: expected a number of groups (5) or a share of them (1%)")
        number, percent = match.groups()
        if percent:
            share = float(number)
            if share > 100:
                raise ConfigError(f"{setting}={clip(text)}: a share is 0% to 100%")
            return cls(percent=share)
        if "." in number:
            raise ConfigError(f"{setting}={clip(text)}: a number of groups is a whole number")
        return cls(count=int(number))
