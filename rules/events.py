"""Alarm events: every transition of every alarm, with its time, cause and, for people, who."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from rules.alarm import Alarm


class EventKind(StrEnum):
    """What happened to an alarm."""

    RAISED = "raised"
    """The condition became present (after its on-delay): the alarm is unacknowledged."""
    ACKNOWLEDGED = "acknowledged"
    ON_SITE = "on_site"
    """Someone is at the device or zone."""
    RETURNED_TO_NORMAL = "returned_to_normal"
    """The condition cleared; the alarm still waits for an acknowledgement or a reset."""
    CLEARED = "cleared"
    """The condition of an acknowledged alarm cleared: the alarm is gone."""
    RESET = "reset"
    """A person reset a latched alarm whose condition had cleared: the alarm is gone."""
    ESCALATED = "escalated"
    SHELVED = "shelved"
    UNSHELVED = "unshelved"
    OUT_OF_SERVICE = "out_of_service"
    IN_SERVICE = "in_service"
    CHATTERING = "chattering"
    """Three or more activations within a minute (ISA-18.2): fix the deadband or delays."""
    STALE = "stale"
    """Continuously active for more than 24 hours (ISA-18.2 stale alarm)."""
    HELD = "held"
    """Its cause became active: it is that cause's consequence now, on the feed but needing
    nobody (`held_by` names the cause)."""
    RELEASED = "released"
    """Its cause ended while it is still present: it stands on its own and needs a person."""


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One transition of one alarm. `alarm` is its state right after the transition."""

    alarm_id: str
    kind: EventKind
    at: int
    cause: str
    alarm: Alarm
    by: str | None = None

    @property
    def order(self) -> tuple[int, int]:
        """Publication order: priority first, then class (fire before supervisory, ...)."""
        return (self.alarm.priority.rank, self.alarm.alarm_class.rank)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with the alarm snapshot under `alarm`."""
        return {
            "alarm_id": self.alarm_id,
            "kind": str(self.kind),
            "at": self.at,
            "cause": self.cause,
            "by": self.by,
            "alarm": self.alarm.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The inverse of `to_dict`; raises `ValueError` on a malformed record."""
        try:
            return cls(
                alarm_id=data["alarm_id"],
                kind=EventKind(data["kind"]),
                at=data["at"],
                cause=data["cause"],
                alarm=Alarm.from_dict(data["alarm"]),
                by=data.get("by"),
            )
        except KeyError as error:
            raise ValueError(f"alarm event record is missing {error.args[0]}") from None


def in_publication_order(events: list[AlarmEvent]) -> list[AlarmEvent]:
    """Fire first (GB 26875.1: fire alarms go ahead of any other traffic).

    The sort is stable, so the events of one alarm keep the order they happened in.
    """
    if len(events) > 1:
        events.sort(key=_order)
    return events


def _order(event: AlarmEvent) -> tuple[int, int]:
    return event.order
