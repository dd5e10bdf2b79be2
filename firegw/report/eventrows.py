"""Alarm events back from InfluxDB rows of `alarm_event` (gateway/alarms/lines.py).

A row carries the alarm's tags and, since the report came, the flags the report needs
(active, latched, held_by, shelved, out_of_service, raised_at). Rows written before then
lack them: the condition's presence is then read from the kind of event, and the
activation's start from its first `raised`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules import Alarm, AlarmClass, AlarmEvent, AlarmState, EventKind, Priority

__all__ = ["EVENT_COLUMNS", "event_of_row"]

EVENT_COLUMNS = (
    "alarm_id",
    "kind",
    "state",
    "cause",
    '"by"',
    "escalation_level",
    "active",
    "latched",
    "held_by",
    "shelved",
    "out_of_service",
    "raised_at",
    "value",
    "value_text",
    "building",
    "zone",
    "device",
    "rule",
    '"class"',
    "priority",
)
"""What the report selects of `alarm_event` (`by` and `class` are InfluxQL keywords)."""

_ACTIVE_AFTER = {
    EventKind.RAISED: True,
    EventKind.RELEASED: True,
    EventKind.RETURNED_TO_NORMAL: False,
    EventKind.CLEARED: False,
    EventKind.RESET: False,
}


def event_of_row(row: Mapping[str, Any], previous: AlarmEvent | None) -> AlarmEvent:
    """One event from one row (`time` in ns); `previous` is the alarm's event before it, for
    rows without the newer fields.

    Raises:
        ValueError: a row whose kind, class, priority or state no version of the gateway wrote.
    """
    kind = EventKind(row["kind"])
    at = int(row["time"])
    active = row.get("active")
    if active is None:
        before = previous is not None and previous.alarm.active
        active = _ACTIVE_AFTER.get(kind, before)
    raised_at = row.get("raised_at")
    if raised_at is None:
        raised_at = _raised_at(kind, at, previous)
    value = row.get("value")
    alarm = Alarm(
        id=row["alarm_id"],
        rule=row.get("rule") or row["alarm_id"].partition(":")[0],
        alarm_class=AlarmClass(row["class"]),
        priority=Priority(row["priority"]),
        state=AlarmState(row["state"]),
        building=row.get("building") or "",
        zone=row.get("zone") or "",
        device=row.get("device") or None,
        value=value if value is not None else row.get("value_text"),
        message="",
        raised_at=int(raised_at),
        observed_at=at,
        active=bool(active),
        latched=bool(row.get("latched")),
        escalation_level=int(row.get("escalation_level") or 0),
        shelved_until=at if row.get("shelved") else None,
        out_of_service=bool(row.get("out_of_service")),
        held_by=row.get("held_by") or None,
        updated_at=at,
    )
    return AlarmEvent(alarm.id, kind, at, row.get("cause") or "", alarm, row.get("by") or None)


def _raised_at(kind: EventKind, at: int, previous: AlarmEvent | None) -> int:
    """The activation's start, as the engine keeps it: a new one at a `raised` unless the alarm
    was raised again before anybody acknowledged its return."""
    if previous is None:
        return at
    if kind is EventKind.RAISED and previous.alarm.state is not AlarmState.RETURNED_UNACKNOWLEDGED:
        return at
    return previous.alarm.raised_at
