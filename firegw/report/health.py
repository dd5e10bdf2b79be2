"""The alarm system's own health after ISA-18.2 and EEMUA 191: alarms announced per 10
minutes, floods, chattering and stale alarms, the priorities, the ten noisiest devices.

The counting is the gateway's own (`rules.AlarmLoad`, which the status reports for the last
24 hours): the report runs the period's events through it one day at a time and adds the days
up, so a report and `firegw status` can never disagree about what an announced alarm or a
flood is.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass

from firegw.report.episodes import is_announcing
from firegw.report.scope import Scope
from rules import AlarmEvent, AlarmLoad, EventKind, Priority

__all__ = ["FLOOD_ABOVE", "Health", "health_of"]

FLOOD_ABOVE = 10
"""More announced alarms than this in a 10-minute period is a flood (as `rules.AlarmLoad`)."""
NOISIEST_SHOWN = 10
_NS = 1_000_000_000
_MINUTE_NS = 60 * _NS


@dataclass(frozen=True)
class Health:
    announced: int
    per_10_min: float
    peak_10_min: int
    periods: int
    floods: int
    chattering: list[str]
    """Alarms that chattered (3 or more activations within a minute) in the period."""
    stale: list[str]
    """Alarms that stayed active for more than 24 hours in the period."""
    priorities: dict[Priority, int]
    noisiest: list[tuple[str, int]]
    """The devices (or zones, for zone alarms) with the most announced alarms."""
    per_day: list[tuple[str, int, int]]
    """Each day: its date, alarms announced, its busiest 10 minutes."""

    @property
    def time_in_flood(self) -> float:
        return self.floods / self.periods if self.periods else 0.0

    def share(self, priority: Priority) -> float:
        return self.priorities.get(priority, 0) / self.announced if self.announced else 0.0


def health_of(scope: Scope) -> Health:
    period = scope.period
    every = scope.history.events  # in time order
    first = bisect.bisect_left(every, period.start_ns, key=_time)
    events = every[first : bisect.bisect_left(every, period.end_ns, key=_time)]
    days = list(period.days())
    load = AlarmLoad(started=period.start_ns / _NS)
    per_day: list[tuple[str, int, int]] = []
    priorities: Counter[Priority] = Counter()
    floods = periods = peak = 0
    index = 0
    for number, day in enumerate(days):
        day_end = int((days[number + 1] if number + 1 < len(days) else period.end).timestamp())
        while index < len(events) and events[index].at < day_end * _NS:
            minute = events[index].at // _MINUTE_NS
            batch = index
            while index < len(events) and events[index].at // _MINUTE_NS == minute:
                index += 1
            load.count(events[batch:index], events[batch].at / _NS)  # one minute at once
        summary = load.summary([], day_end - 1e-3)
        day_periods = round(min(summary.measured_for, day_end - day.timestamp()) / 600)
        periods += day_periods
        floods += round(summary.time_in_flood * day_periods)
        peak = max(peak, summary.peak_10_min)
        for name, share in summary.priorities.items():
            priorities[Priority(name)] += round(share * summary.announced)
        per_day.append((day.date().isoformat(), summary.announced, summary.peak_10_min))
    announced = [e for e in events if is_announcing(e)]
    noisy = Counter(e.alarm.device or e.alarm.zone or e.alarm_id for e in announced)
    total = sum(n for _, n, _ in per_day)
    return Health(
        announced=total,
        per_10_min=total / (period.seconds / 600) if period.seconds else 0.0,
        peak_10_min=peak,
        periods=periods,
        floods=floods,
        chattering=sorted({e.alarm_id for e in events if e.kind is EventKind.CHATTERING}),
        stale=sorted({e.alarm_id for e in events if e.kind is EventKind.STALE}),
        priorities={p: priorities[p] for p in Priority},
        noisiest=sorted(noisy.items(), key=lambda item: (-item[1], item[0]))[:NOISIEST_SHOWN],
        per_day=per_day,
    )


def _time(event: AlarmEvent) -> int:
    return event.at
