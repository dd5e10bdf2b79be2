"""How late the event loop runs: the one figure that says the gateway can still react.

Everything the gateway does (polling, rules, the feed) is a task on one event loop. A call that
blocks it (a slow disk under a synchronous write, a bug) delays every alarm by as long, so the
loop's lag is in the status, in the metrics, and decides whether the service manager's
watchdog is fed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["LoopLag"]

KEPT = 120
"""Samples kept for the worst lag: a minute at the default interval."""


@dataclass
class LoopLag:
    """Samples the loop's lag every `interval` seconds while `run` runs.

    `last` is the newest sample, `worst` the largest of the last minute; `stalled_for` is how
    long ago the loop last got round to sampling (large while it is blocked: it is read from
    another place in the same loop, so it is only useful once the loop runs again, or from
    a thread).
    """

    interval: float = 0.5
    last: float = 0.0
    samples: deque[float] = field(default_factory=lambda: deque(maxlen=KEPT))
    _sampled_at: float = field(default_factory=time.monotonic)

    @property
    def worst(self) -> float:
        return max(self.samples, default=0.0)

    def stalled_for(self) -> float:
        """Seconds since the last sample, beyond the sampling interval."""
        return max(0.0, time.monotonic() - self._sampled_at - self.interval)

    async def run(self) -> None:
        """Sample until cancelled."""
        self._sampled_at = time.monotonic()
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            self.last = max(0.0, now - before - self.interval)
            self.samples.append(self.last)
            self._sampled_at = now

    def as_dict(self) -> dict[str, float]:
        return {"lag": round(self.last, 4), "worst_lag": round(self.worst, 4)}
