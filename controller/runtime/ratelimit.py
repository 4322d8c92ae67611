"""Per-key exponential backoff and interval jitter. Pure arithmetic plus a failure count."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MIN_RETRY_DELAY = 0.75
MAX_RETRY_DELAY = 15 * 60.0


@dataclass
class ExponentialBackoff:
    """base * 2**failures, capped; each key has its own count until forgotten."""

    base: float = MIN_RETRY_DELAY
    cap: float = MAX_RETRY_DELAY
    _failures: dict[str, int] = field(default_factory=dict)

    def when(self, key: str) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        # Past 2**40 the product overflows nothing useful: the cap has long been reached.
        return min(self.cap, self.base * 2.0 ** min(n, 40))

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)


def jittered(interval: float, percentage: float = 5.0, rng: random.Random | None = None) -> float:
    """interval ± percentage%, as Flux's --interval-jitter-percentage."""
    spread = interval * percentage / 100.0
    return interval + (rng or random).uniform(-spread, spread)
