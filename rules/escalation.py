"""Escalation by the security office's response rule: respond in 1 min, on site in 3, contain in 5.

Level 1: nobody acknowledged the alarm in time. Level 2: nobody was marked on site in time.
Level 3: the condition is still present when it should have been contained. Each level is
checked on its own and reported once; the alarm's level is the highest reached. Deadlines
count from when the alarm was put in front of people (raised, or unshelved or returned to
service while unacknowledged), on the monotonic clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rules.model import AlarmState
from rules.policies import EscalationPolicy

if TYPE_CHECKING:
    from rules.lifecycle import AlarmRecord

_UNACKNOWLEDGED = (AlarmState.UNACKNOWLEDGED, AlarmState.RETURNED_UNACKNOWLEDGED)


def escalations_due(
    record: AlarmRecord, policy: EscalationPolicy, now: float
) -> list[tuple[int, str]]:
    """The levels `record` reaches now, lowest first, each with its cause."""
    alarm = record.alarm
    if alarm.escalation_level >= 3 or alarm.state is AlarmState.NORMAL or alarm.suppressed:
        return []
    if alarm.held_by is not None:
        return []  # its cause escalates
    if alarm.priority not in policy.priorities:
        return []
    elapsed = now - record.announced
    due = []
    for level in range(alarm.escalation_level + 1, 4):
        deadline = policy.deadline(level)
        if elapsed >= deadline and _unmet(record, level):
            due.append((level, f"{_MISSED[level]} within {deadline:g} s"))
    return due


def _unmet(record: AlarmRecord, level: int) -> bool:
    alarm = record.alarm
    if level == 1:
        return alarm.state in _UNACKNOWLEDGED
    if level == 2:
        return alarm.on_site_by is None
    return alarm.active


_MISSED = {1: "not acknowledged", 2: "nobody on site", 3: "not contained"}
