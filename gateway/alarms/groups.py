"""The feed's incidents: every alarm belongs to one group (`Alarm.group`: zone and cause,
`fire@opd-1f-er`, `trouble@opd-panel`), and each group has a summary on the feed.

A guard's screen shows one line per incident, not forty: how many alarms, how many still need
a person, the worst priority and how long the oldest has waited. `GroupBoard` keeps each
alarm's group as the events come (an alarm moves to its cause's group while it is held, and
back when released) and says which summaries changed, so only those are published again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.alarms.payloads import Document, is_gone
from rules import Alarm, AlarmState

__all__ = ["MAX_IDS", "GroupBoard", "group_document"]

MAX_IDS = 500
"""A summary names at most this many alarms (`alarm_ids`); `alarms` counts them all."""

_WAITING = (AlarmState.UNACKNOWLEDGED, AlarmState.RETURNED_UNACKNOWLEDGED)


@dataclass(slots=True)
class GroupBoard:
    """Which alarms are in which group, from the alarms' states as they change."""

    members: dict[str, dict[str, Alarm]] = field(default_factory=dict)
    """Group -> alarm id -> the alarm as last seen."""
    _group_of: dict[str, str] = field(default_factory=dict)

    def update(self, alarms: Iterable[Alarm]) -> set[str]:
        """Take the alarms' new states; the groups whose summary changed."""
        changed: set[str] = set()
        for alarm in alarms:
            before = self._group_of.pop(alarm.id, None)
            if before is not None:
                self.members[before].pop(alarm.id, None)
                if not self.members[before]:
                    del self.members[before]
                changed.add(before)
            if not is_gone(alarm):
                self.members.setdefault(alarm.group, {})[alarm.id] = alarm
                self._group_of[alarm.id] = alarm.group
                changed.add(alarm.group)
        return changed

    def document(self, group: str, site: str, at: int) -> Document | None:
        """The group's summary, or None when it has no alarm left (its topic is cleared)."""
        alarms = self.members.get(group)
        return group_document(group, alarms.values(), site, at) if alarms else None


def group_document(group: str, alarms: Iterable[Alarm], site: str, at: int) -> Document:
    """One incident's summary: counts, worst priority, the oldest wait, and its alarms."""
    members = sorted(alarms, key=lambda a: (a.priority.rank, a.raised_at, a.id))
    waiting = [a.raised_at for a in members if a.state in _WAITING and a.held_by is None]
    zones = {a.zone for a in members}
    buildings = {a.building for a in members}
    kind, _, where = group.partition("@")
    return {
        "group": group,
        "site": site,
        "class": kind,
        "where": where,
        "building": buildings.pop() if len(buildings) == 1 else None,
        "zone": zones.pop() if len(zones) == 1 else None,
        "alarms": len(members),
        "needs_person": sum(a.needs_person and a.held_by is None for a in members),
        "unacknowledged": len(waiting),
        "held": sum(a.held_by is not None for a in members),
        "active": sum(a.active for a in members),
        "worst_priority": str(members[0].priority),
        "oldest_unacknowledged_at": min(waiting, default=None),
        "alarm_ids": [a.id for a in members[:MAX_IDS]],
        "updated_at": at,
    }
