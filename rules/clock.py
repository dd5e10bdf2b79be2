"""Time for the rules engine: a monotonic clock for delays and a wall clock for timestamps."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Where the engine gets the time.

    Every delay, window and timeout is measured on `monotonic()`, so an NTP step of the wall
    clock neither fires nor swallows an alarm; `wall_ns()` only stamps alarms and events.
    """

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    def wall_ns(self) -> int:
        """Wall-clock nanoseconds since the epoch."""
        ...


class SystemClock:
    """The real clocks of the box."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall_ns(self) -> int:
        return time.time_ns()


class FakeClock:
    """A clock that moves only when told to, for tests.

    `advance` moves both clocks together; `step_wall` moves only the wall clock, like an NTP
    correction, to show that delays do not depend on it.
    """

    def __init__(self, monotonic: float = 1000.0, wall_ns: int = 1_767_225_600_000_000_000) -> None:
        self._monotonic = monotonic
        self._wall_ns = wall_ns

    def monotonic(self) -> float:
        return self._monotonic

    def wall_ns(self) -> int:
        return self._wall_ns

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass on both clocks; refuses to go backwards."""
        if seconds < 0:
            raise ValueError(f"time cannot go backwards (advance by {seconds!r} s)")
        self._monotonic += seconds
        self._wall_ns += round(seconds * 1e9)

    def step_wall(self, seconds: float) -> None:
        """Step the wall clock alone (either way), as NTP does after a long drift."""
        self._wall_ns += round(seconds * 1e9)
