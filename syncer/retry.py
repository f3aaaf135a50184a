"""How often a failed call is tried again, after how long, and how many retries a run may spend.

Pure: the clock is the caller's (it sleeps for :meth:`RetryPolicy.backoff`), the randomness is
an injected :class:`random.Random`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger("syncer.client")

# Until one call has succeeded, a host that does not answer is more likely wrong than busy.
ATTEMPTS_BEFORE_FIRST_SUCCESS = 3


@dataclass
class RetryPolicy:
    """``max_attempts`` per call (the first counts); a backoff capped exponentially with full
    jitter; a budget of retries per run of ``budget_floor`` plus ``budget_ratio`` per first
    attempt, so that a vendor in trouble is not answered with a storm."""

    max_attempts: int
    backoff_base_s: float
    backoff_cap_s: float
    budget_floor: float
    budget_ratio: float
    rng: random.Random = field(default_factory=random.SystemRandom)
    retries: int = 0  # retries spent so far
    first_attempts: int = 0  # calls started so far
    _budget_spent_logged: bool = False

    def attempts(self, *, proven: bool) -> int:
        """Attempts for a call now starting; ``proven``: a call has succeeded already."""
        self.first_attempts += 1
        return self.max_attempts if proven else min(ATTEMPTS_BEFORE_FIRST_SUCCESS, self.max_attempts)

    def take_retry(self) -> bool:
        """Spend one retry of the budget, if one is left."""
        if self.retries < self.budget_floor + self.budget_ratio * self.first_attempts:
            self.retries += 1
            return True
        if not self._budget_spent_logged:
            self._budget_spent_logged = True
            log.warning("retry_budget_spent", retries=self.retries, calls=self.first_attempts)
        return False

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 for the first)."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * (2 ** (attempt - 1)))
        return self.rng.uniform(0, ceiling)
