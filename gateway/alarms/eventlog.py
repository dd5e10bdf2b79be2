"""Every alarm event as one log line: what happened to which alarm, where, and who did it.

The journal is where a technician looks first ("when was the fire in the emergency hall
acknowledged, and by whom?"), so each transition the feed publishes is also one line of the
log: raised and escalated as warnings (they need a person), the rest at info level. Text
that came from outside (an operator id, a device's message) is escaped, so a crafted name
cannot forge log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gateway.alarms.audit import printable
from rules import AlarmEvent, EventKind

__all__ = ["log_events"]

log = logging.getLogger("gateway.alarms.events")

_NEEDS_A_PERSON = frozenset({EventKind.RAISED, EventKind.ESCALATED, EventKind.RELEASED})


def log_events(events: Sequence[AlarmEvent]) -> None:
    """One line per event, in the order they are published."""
    for event in events:
        level = logging.WARNING if event.kind in _NEEDS_A_PERSON else logging.INFO
        if log.isEnabledFor(level):
            log.log(level, "%s", describe(event))


def describe(event: AlarmEvent) -> str:
    """`alarm raised: fire:OPD-SD-002 (fire, critical) zone opd-1f-er: Smoke detector in fire`
    and, for a person's action, `... by chen.wei`."""
    alarm = event.alarm
    kind = str(event.kind).replace("_", " ")
    if event.kind is EventKind.ESCALATED:
        kind = f"escalated to level {alarm.escalation_level}"
    where = f" zone {printable(alarm.zone)}" if alarm.zone else ""
    line = (
        f"alarm {kind}: {printable(alarm.id)} ({alarm.alarm_class}, {alarm.priority}){where}: "
        f"{printable(alarm.message)}"
    )
    if event.by:
        line += f" by {printable(event.by)}"
    if event.kind is EventKind.HELD and alarm.held_by:
        line += f" (held by {printable(alarm.held_by)})"
    return line
