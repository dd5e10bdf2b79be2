"""How well the alarm system serves the people who answer it (ISA-18.2 / EEMUA 191 KPIs).

An alarm system fails its operators long before it misses a fire: when alarms come faster
than one person can read and act on them, the one that matters is lost among the others.
`AlarmLoad` counts the alarms that were *announced* (raised, or released from their cause,
to a person who has to act: not held back as a consequence, not shelved, not out of service,
not raised already acknowledged) and summarises, over the last 24 hours:

- alarms per 10 minutes, on average and at the peak, and in the last 10 minutes;
- floods: more than 10 announced alarms in a 10-minute period, and the share of the
  10-minute periods that were floods;
- how many alarms chatter (3 or more activations within a minute) or are stale (active
  for more than 24 hours) right now;
- the share of each priority among the announced alarms.

The targets these are measured against (`TARGETS`) come from ISA-18.2 and EEMUA 191; the
site's security office is one operator position. Counts are kept per minute for a day:
1,440 small buckets, whatever the rate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core import Reading
from rules.alarm import Alarm
from rules.events import AlarmEvent, EventKind
from rules.model import Priority

__all__ = ["FLOOD_ABOVE", "TARGETS", "AlarmLoad", "AlarmLoadSummary", "announced"]

FLOOD_ABOVE = 10
"""A 10-minute period with more announced alarms than this is a flood (ISA-18.2, EEMUA 191)."""
PERIOD_MINUTES = 10
WINDOW_MINUTES = 24 * 60

TARGETS: Mapping[str, str] = {
    "per_10_min": "1 or fewer on average (EEMUA 191); 2 is manageable; ISA-18.2: 1 to 2",
    "peak_10_min": f"{FLOOD_ABOVE} or fewer in any 10 minutes (ISA-18.2)",
    "time_in_flood": "under 1 % of 10-minute periods",
    "chattering": "none (ISA-18.2: fix the deadband or the delays)",
    "stale": "none (active for more than 24 h: fix the cause or the rule)",
    "priorities": "about 80 % low, 15 % medium, 5 % high and critical (ISA-18.2, announced)",
}
"""What each figure of `AlarmLoadSummary` should be, in words, for the docs and the report."""

_ANNOUNCING = (EventKind.RAISED, EventKind.RELEASED)


def announced(event: AlarmEvent) -> bool:
    """Whether `event` put an alarm in front of a person who has to act on it."""
    alarm = event.alarm
    return (
        event.kind in _ANNOUNCING
        and alarm.needs_person
        and alarm.held_by is None
        and not alarm.suppressed
    )


@dataclass(frozen=True, slots=True)
class AlarmLoadSummary:
    """The alarm system's health over `measured_for` seconds (at most the last 24 hours)."""

    measured_for: float
    announced: int
    last_10_min: int
    """Announced in the current minute and the nine before it."""
    per_10_min: float
    peak_10_min: int
    in_flood: bool
    time_in_flood: float
    """Share (0 to 1) of the 10-minute periods measured that were floods."""
    chattering: int
    stale: int
    priorities: Mapping[str, float] = field(default_factory=dict)
    """Share (0 to 1) of each priority among the announced alarms; empty before the first."""

    def readings(self, device: str, at: int) -> list[Reading]:
        """The summary as readings of the gateway `device` observed at `at` (wall ns), for
        the history: points `alarms_last_10_min`, `alarms_per_10_min`, `alarm_flood`, ..."""
        values: dict[str, bool | int | float] = {
            "alarms_last_10_min": self.last_10_min,
            "alarms_per_10_min": round(self.per_10_min, 3),
            "alarms_peak_10_min": self.peak_10_min,
            "alarms_announced_24h": self.announced,
            "alarm_flood": self.in_flood,
            "alarm_time_in_flood": round(self.time_in_flood, 4),
            "alarms_chattering": self.chattering,
            "alarms_stale": self.stale,
        }
        values |= {f"alarms_share_{name}": round(v, 4) for name, v in self.priorities.items()}
        return [Reading(device, point, value, observed_at=at) for point, value in values.items()]

    def to_dict(self) -> dict[str, object]:
        return {
            "measured_for": round(self.measured_for),
            "announced": self.announced,
            "last_10_min": self.last_10_min,
            "per_10_min": round(self.per_10_min, 2),
            "peak_10_min": self.peak_10_min,
            "in_flood": self.in_flood,
            "time_in_flood": round(self.time_in_flood, 4),
            "chattering": self.chattering,
            "stale": self.stale,
            "priorities": {name: round(share, 3) for name, share in self.priorities.items()},
        }


@dataclass(slots=True)
class _Minute:
    index: int
    by_priority: dict[Priority, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_priority.values())


class AlarmLoad:
    """Counts announced alarms by minute; `summary` gives the KPIs of the last 24 hours.

    `now` is monotonic seconds (the engine's clock), `started` when counting began.
    """

    def __init__(self, started: float) -> None:
        self.started = started
        self._minutes: deque[_Minute] = deque()

    def count(self, events: Iterable[AlarmEvent], now: float) -> None:
        """Count the announced ones among `events`, which happened at `now`."""
        for event in events:
            if announced(event):
                minute = self._minute(now)
                priority = event.alarm.priority
                minute.by_priority[priority] = minute.by_priority.get(priority, 0) + 1

    def summary(self, alarms: Iterable[Alarm], now: float) -> AlarmLoadSummary:
        """The KPIs now; `alarms` are the engine's current alarms (for chattering and stale)."""
        current = int(now // 60)
        self._forget_before(current - WINDOW_MINUTES + 1)
        measured_for = min(now - self.started, WINDOW_MINUTES * 60.0)
        periods: dict[int, int] = {}
        by_priority: dict[Priority, int] = {}
        for minute in self._minutes:
            periods[minute.index // PERIOD_MINUTES] = (
                periods.get(minute.index // PERIOD_MINUTES, 0) + minute.total
            )
            for priority, n in minute.by_priority.items():
                by_priority[priority] = by_priority.get(priority, 0) + n
        total = sum(by_priority.values())
        first = max(int(self.started // 60), current - WINDOW_MINUTES + 1)
        measured_periods = current // PERIOD_MINUTES - first // PERIOD_MINUTES + 1
        floods = sum(1 for n in periods.values() if n > FLOOD_ABOVE)
        last_10 = sum(m.total for m in self._minutes if m.index > current - PERIOD_MINUTES)
        states = list(alarms)
        return AlarmLoadSummary(
            measured_for=measured_for,
            announced=total,
            last_10_min=last_10,
            per_10_min=total / max(measured_for / (PERIOD_MINUTES * 60.0), 1.0),
            peak_10_min=max(periods.values(), default=0),
            in_flood=last_10 > FLOOD_ABOVE,
            time_in_flood=floods / measured_periods,
            chattering=sum(1 for alarm in states if alarm.chattering),
            stale=sum(1 for alarm in states if alarm.stale),
            priorities=(
                {p.value: by_priority.get(p, 0) / total for p in Priority} if total else {}
            ),
        )

    def _minute(self, now: float) -> _Minute:
        index = int(now // 60)
        if not self._minutes or self._minutes[-1].index != index:
            self._minutes.append(_Minute(index))
            self._forget_before(index - WINDOW_MINUTES + 1)
        return self._minutes[-1]

    def _forget_before(self, index: int) -> None:
        while self._minutes and self._minutes[0].index < index:
            self._minutes.popleft()
