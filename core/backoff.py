"""Exponential backoff with jitter, shared by the drivers' reconnect and retry loops."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double after each failure up to a cap, each stretched by random jitter.

    The jitter keeps a building's devices (or gateways) from retrying in lock-step after a
    common outage, which would hit the recovering peer with every request at once.
    """

    def __init__(
        self,
        initial: float = 1.0,
        cap: float = 30.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= cap:
            raise ValueError(f"backoff needs 0 < initial <= cap, got {initial!r}, {cap!r}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"backoff jitter must be within 0..1, got {jitter!r}")
        self.initial = initial
        self.cap = cap
        self.jitter = jitter
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before trying again."""
        base = min(self.cap, self.initial * 2.0 ** min(self.failures, 62))
        self.failures += 1
        return base * (1.0 + self.jitter * self._rng.random())

    def reset(self) -> None:
        """Forget the failures after a success: the next failure waits `initial` again."""
        self.failures = 0
