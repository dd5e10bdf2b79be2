"""How late an event loop wakes a timer: the time it spent on something else.

Used in the benchmark's own process (a late subscriber stamps arrivals late) and in the
gateway probe (a busy gateway delays alarms).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

__all__ = ["LoopLag"]

LATE = 0.005
"""Seconds past its due time after which a wake-up is recorded."""


class LoopLag:
    """Sleeps `period` seconds again and again and records every late wake-up.

    Attributes:
        late: (monotonic time, seconds late) of the newest `kept` wake-ups more than 5 ms late.
        worst: the latest wake-up so far, in seconds.
    """

    def __init__(self, period: float = 0.005, kept: int = 100_000) -> None:
        self.period = period
        self.late: deque[tuple[float, float]] = deque(maxlen=kept)
        self.worst = 0.0

    async def run(self) -> None:
        """Watch until cancelled."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.period)
            now = time.monotonic()
            lag = now - before - self.period
            self.worst = max(self.worst, lag)
            if lag > LATE:
                self.late.append((now, lag))

    def worst_between(self, start: float, end: float) -> float:
        """The latest wake-up recorded between two monotonic times."""
        return max((lag for at, lag in self.late if start <= at <= end + lag), default=0.0)
