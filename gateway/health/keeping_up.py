"""`KeepingUp`: whether the gateway itself keeps up with its polling, and how long it did not.

A gateway starved of CPU (a start of thousands of endpoints beside other busy jobs, a box too
small for its site) polls late: its devices' readings do not come because they were never
asked for, not because the devices are silent. Counting that against each device's
supervision window turns the gateway's one trouble into a communication loss of every device
(at 10x the reference site, thousands of alarms within a minute). So this watch measures the
time the gateway could not poll:

- its event loop's lag: it wakes every `SAMPLE` seconds, and a wake-up later than
  `TOLERANCE` counts its whole lateness, time in which no poll could start either;
- a start's connection turns: while endpoints' first connection attempts still wait their
  turn (the Modbus driver paces them), the time counts as well.

The running total, `unpolled`, goes to the rules engine's tick (the supervision windows run on
a clock that stops for it) and to the link watch (`unpolled_since`). Every `REPORT` seconds
the watch reports the gateway's point `keeping_up`, false when its loop lagged for more than
`BEHIND_SHARE` of the period, and `loop_lag`, the period's largest lag: the rules raise one
`gateway_overloaded` trouble for the gateway itself when it stays behind.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable

from core import Reading, ReadingSink

__all__ = ["KeepingUp"]

SAMPLE = 0.1
TOLERANCE = 0.05
"""Seconds of lateness that are a busy box's ordinary scheduling jitter, not a starved loop."""
REPORT = 1.0
BEHIND_SHARE = 0.25
KEPT = 300.0
"""Seconds of history `unpolled_since` can answer for (longer than any supervision window)."""


class KeepingUp:
    """Measures the time the gateway could not poll and reports whether it keeps up.

    Args:
        device: the gateway's device id (its readings `keeping_up` and `loop_lag`).
        queued: how many connection attempts wait for their first turn (the Modbus driver's).
        publish: where the readings go (the hub), or None.
    """

    def __init__(
        self,
        device: str,
        queued: Callable[[], int] = lambda: 0,
        publish: ReadingSink | None = None,
        *,
        sample: float = SAMPLE,
        report: float = REPORT,
    ) -> None:
        self.device, self.queued, self.publish = device, queued, publish
        self.sample, self.report = sample, report
        self.unpolled = 0.0
        """Seconds since the start during which the gateway could not poll (see the module)."""
        self._marks: list[float] = []
        self._totals: list[float] = []
        self._base = 0.0
        self._lag_in_period = 0.0
        self._largest_lag = 0.0

    async def run(self) -> None:
        """Sample the loop until cancelled, reporting every `report` seconds."""
        last = time.monotonic()
        report_due = last + self.report
        while True:
            await asyncio.sleep(self.sample)
            now = time.monotonic()
            self.note(now - last - self.sample, now - last, now)
            last = now
            if now >= report_due:
                report_due = now + self.report
                if self.publish is not None:
                    await self.publish(self.readings())

    def note(self, lag: float, elapsed: float, now: float) -> None:
        """One sample: the loop woke `lag` seconds late after `elapsed` seconds in all."""
        lost = lag if lag > TOLERANCE else 0.0
        self._lag_in_period += lost
        self._largest_lag = max(self._largest_lag, lag)
        if self.queued():
            lost = elapsed  # connections still waiting their turn: no poll of theirs is due
        if lost > 0.0:
            self.unpolled += lost
            self._marks.append(now)
            self._totals.append(self.unpolled)
            if now - self._marks[0] > 2 * KEPT:
                cut = bisect.bisect_left(self._marks, now - KEPT)
                self._base = self._totals[cut - 1]
                del self._marks[:cut], self._totals[:cut]

    def unpolled_since(self, since: float) -> float:
        """Seconds the gateway could not poll from `since` (monotonic) until now."""
        at = bisect.bisect_right(self._marks, since)
        return self.unpolled - (self._totals[at - 1] if at else self._base)

    def readings(self) -> list[Reading]:
        """The period's `keeping_up` and `loop_lag` as readings of the gateway; starts anew."""
        behind = self._lag_in_period > BEHIND_SHARE * self.report
        largest = round(self._largest_lag, 3)
        self._lag_in_period = self._largest_lag = 0.0
        return [
            Reading(self.device, "keeping_up", not behind),
            Reading(self.device, "loop_lag", largest, unit="s"),
        ]
