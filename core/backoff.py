"""Exponential backoff with jitter: the one schedule of every retry, reconnect and restart."""

from __future__ import annotations

import random

__all__ = ["Backoff"]

RECONNECT = (1.0, 1.2)
"""Each delay 1 to 1.2 times the doubled one: a reconnect waits at least its due time."""
FULL_JITTER = (0.0, 1.0)
"""Anywhere from no wait to the doubled delay: many writers retrying spread out the most."""

_RANDOM = random.Random()
"""One generator for every backoff that is not given its own: a generator's state is 2.5 KB,
and a gateway of a thousand small I/O modules has a few thousand backoffs."""


class Backoff:
    """Delays that double after each failure up to a cap, each scaled by a random factor.

    The factor is drawn from `spread` at every delay. The jitter keeps a building's devices,
    or a campus of gateways, from retrying in lock-step after a common outage, which would
    hit the recovering peer with every request at once.

    Args:
        initial: the first delay before jitter, in seconds.
        cap: the largest delay before jitter.
        spread: the range of the random factor (`RECONNECT`, `FULL_JITTER`, or your own).
        rng: the random source (seeded in tests).
    """

    __slots__ = ("_rng", "cap", "failures", "initial", "spread")

    def __init__(
        self,
        initial: float = 1.0,
        cap: float = 30.0,
        *,
        spread: tuple[float, float] = RECONNECT,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= cap:
            raise ValueError(f"backoff needs 0 < initial <= cap, got {initial!r}, {cap!r}")
        low, high = spread
        if not 0 <= low <= high:
            raise ValueError(f"backoff spread needs 0 <= low <= high, got {spread!r}")
        self.initial = initial
        self.cap = cap
        self.spread = spread
        self.failures = 0
        self._rng = rng or _RANDOM

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before trying again."""
        base = min(self.cap, self.initial * 2.0 ** min(self.failures, 62))
        self.failures += 1
        return base * self._rng.uniform(*self.spread)

    def reset(self) -> None:
        """Forget the failures after a success: the next failure waits `initial` again."""
        self.failures = 0
