"""Alarm events back from InfluxDB rows of `alarm_event` (gateway/alarms/lines.py).

A row carries the alarm's tags and, since the report came, the flags the report needs
(active, latched, held_by, shelved, out_of_service, raised_at). Rows written before then
lack them: the condition's presence is then read from the kind of event, and the
activation's start from its first `raised`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rules import Alarm, AlarmClass, AlarmEvent, AlarmState, EventKind, Priority

__all__ = ["EVENT_FIELDS", "EVENT_TAGS", "EventRows"]

EVENT_FIELDS = (
    "alarm_id",
    "kind",
    "state",
    '"by"',
    "active",
    "latched",
    "held_by",
    "shelved",
    "out_of_service",
    "raised_at",
)
"""The fields the report reads of `alarm_event` (`by` is an InfluxQL keyword)."""
EVENT_TAGS = ("building", "zone", "device", "rule", '"class"', "priority")
"""Its tags, asked for in `GROUP BY` so that each series sends them once."""

_ACTIVE_AFTER = {
    EventKind.RAISED: True,
    EventKind.RELEASED: True,
    EventKind.RETURNED_TO_NORMAL: False,
    EventKind.CLEARED: False,
    EventKind.RESET: False,
}
_KINDS = {str(kind): kind for kind in EventKind}
_STATES = {str(state): state for state in AlarmState}
_CLASSES = {str(c): c for c in AlarmClass}
_PRIORITIES = {str(p): p for p in Priority}


_NAMES = ("time", *(name.strip('"') for name in EVENT_FIELDS))


class EventRows:
    """Turns the rows of one series of `alarm_event` (one alarm's tags) into events.

    `columns` are the series' column names (`time` first), `tags` its tags. Rows must have
    every column of `columns`; `row` puts them in the order `event` reads (a field the
    measurement never had, in a database older than it, reads as None).

    Raises (from `event`):
        ValueError: a row whose kind, class, priority or state no version of the gateway wrote.
    """

    def __init__(self, columns: Sequence[str], tags: Mapping[str, str]) -> None:
        self._complete = list(columns) == list(_NAMES)
        self._order = [columns.index(name) if name in columns else -1 for name in _NAMES]
        try:
            self._class = _CLASSES[tags["class"]]
            self._priority = _PRIORITIES[tags["priority"]]
        except KeyError as missing:
            raise ValueError(f"alarm_event: unknown class or priority {missing}") from None
        self._rule = tags.get("rule") or ""
        self._building = tags.get("building") or ""
        self._zone = tags.get("zone") or ""
        self._device = tags.get("device") or None

    def row(self, values: list[Any]) -> list[Any]:
        """`values` in the order of `EVENT_FIELDS`, after the time."""
        if self._complete:
            return values
        return [values[n] if n >= 0 else None for n in self._order]

    def event(self, row: list[Any], previous: AlarmEvent | None) -> AlarmEvent:
        """One event from one `row`; `previous` is the alarm's event before it, for rows
        without the newer fields."""
        at, alarm_id, kind_text, state_text, by, active, latched, held_by, shelved, oos, raised = (
            row
        )
        try:
            kind, state = _KINDS[kind_text], _STATES[state_text]
        except KeyError as unknown:
            raise ValueError(f"alarm_event: unknown kind or state {unknown}") from None
        if active is None:
            before = previous is not None and previous.alarm.active
            active = _ACTIVE_AFTER.get(kind, before)
        if raised is None:
            raised = _raised_at(kind, at, previous)
        alarm = Alarm(
            id=alarm_id,
            rule=self._rule or alarm_id.partition(":")[0],
            alarm_class=self._class,
            priority=self._priority,
            state=state,
            building=self._building,
            zone=self._zone,
            device=self._device,
            value=None,
            message="",
            raised_at=raised,
            observed_at=at,
            active=bool(active),
            latched=bool(latched),
            shelved_until=at if shelved else None,
            out_of_service=bool(oos),
            held_by=held_by or None,
            updated_at=at,
        )
        return AlarmEvent(alarm_id, kind, at, "", alarm, by or None)


def _raised_at(kind: EventKind, at: int, previous: AlarmEvent | None) -> int:
    """The activation's start, as the engine keeps it: a new one at a `raised` unless the alarm
    was raised again before anybody acknowledged its return."""
    if previous is None:
        return at
    if kind is EventKind.RAISED and previous.alarm.state is not AlarmState.RETURNED_UNACKNOWLEDGED:
        return at
    return previous.alarm.raised_at
