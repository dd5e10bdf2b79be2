"""An alarm as the feed shows it and the alarm store keeps it, and where an alarm comes from."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self

from core import Value
from rules.model import AlarmClass, AlarmState, Priority


@dataclass(frozen=True, slots=True)
class AlarmSource:
    """One rule bound to one device (or one zone): everything fixed about the alarm it raises.

    The alarm id is `<rule>:<device>` for device alarms and `<rule>:<zone>` for zone alarms
    (confirmed fire, blind spot), so it is stable across restarts and readable on MQTT topics.
    """

    alarm_id: str
    rule: str
    alarm_class: AlarmClass
    priority: Priority
    latched: bool
    building: str
    zone: str
    device: str | None


@dataclass(slots=True)
class Alarm:
    """The current state of one alarm.

    Times are wall-clock nanoseconds since the epoch: `raised_at` when the engine raised it,
    `observed_at` when the device was observed (the reading's own time). `active` says whether
    the condition is present right now; a latched alarm stays on the feed after its condition
    has cleared, until a person resets it, and `needs_person` says so.
    """

    id: str
    rule: str
    alarm_class: AlarmClass
    priority: Priority
    state: AlarmState
    building: str
    zone: str
    device: str | None
    value: Value | None
    message: str
    raised_at: int
    observed_at: int
    active: bool = False
    latched: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: int | None = None
    on_site_by: str | None = None
    on_site_at: int | None = None
    escalation_level: int = 0
    shelved_by: str | None = None
    shelved_until: int | None = None
    out_of_service: bool = False
    out_of_service_by: str | None = None
    out_of_service_until: int | None = None
    held_by: str | None = None
    """The alarm whose cause this one is a consequence of, while that cause is active: a
    detector behind a panel link that is down (`link_lost:opd-panel`), a camera's recording
    while the camera is offline. A held alarm is on the feed, marked, but needs nobody."""
    group: str = ""
    """The incident it belongs to, for the feed's summaries and one acknowledgement for all:
    `fire@<zone>` for fire alarms, the cause's group while held, else `<class>@<zone>`."""
    activations: int = 0
    chattering: bool = False
    stale: bool = False
    updated_at: int = 0

    @classmethod
    def from_source(cls, source: AlarmSource, message: str, wall: int) -> Self:
        """A new alarm, still normal, for the rule and device (or zone) `source` names."""
        return cls(
            id=source.alarm_id,
            rule=source.rule,
            alarm_class=source.alarm_class,
            priority=source.priority,
            state=AlarmState.NORMAL,
            building=source.building,
            zone=source.zone,
            device=source.device,
            value=None,
            message=message,
            raised_at=wall,
            observed_at=wall,
            latched=source.latched,
            updated_at=wall,
            group=own_group(source.alarm_class, source.zone, source.device or source.alarm_id),
        )

    @property
    def shelved(self) -> bool:
        return self.shelved_until is not None

    @property
    def needs_person(self) -> bool:
        """Whether a person still has to act: not yet acknowledged, or latched and not reset.

        A latched fire whose detector has cleared (`active` false) still needs a person: it is
        over only when someone resets it. Shelving and out of service do not change it (they
        have flags of their own); a shelved alarm still needs a person when its shelf expires.
        """
        if self.held_by is not None:
            return False  # its cause is the alarm a person answers
        if self.state in _WAITING_FOR_ACKNOWLEDGEMENT:
            return True
        return self.latched and self.state is not AlarmState.NORMAL

    @property
    def kept(self) -> bool:
        """Shelved or out of service: kept by the engine even while normal."""
        return self.shelved_until is not None or self.out_of_service

    @property
    def is_fire(self) -> bool:
        """A fire proper (a detector in fire, a confirmed fire): fire class and latched until a
        person resets it; not a pre-alarm, which warns of one."""
        return self.alarm_class is AlarmClass.FIRE and self.latched

    @property
    def suppressed(self) -> bool:
        """Its automatic transitions are not published: shelved, or out of service unless it
        is a fire (a fire from a device out of service is never silent)."""
        return self.shelved_until is not None or (self.out_of_service and not self.is_fire)

    def snapshot(self) -> Alarm:
        """An independent copy, for an event: later transitions do not change it."""
        return copy.copy(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; the alarm class is under the key `class`. `shelved` and
        `needs_person` are derived from the other fields (and ignored by `from_dict`)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["class"] = str(data.pop("alarm_class"))
        data["priority"] = str(self.priority)
        data["state"] = str(self.state)
        data["shelved"] = self.shelved
        data["needs_person"] = self.needs_person
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The inverse of `to_dict`, for restoring alarms from the alarm store.

        Raises `ValueError` naming the key when a required key is missing or a value is not
        one the enums know.
        """
        known = {f.name for f in fields(cls)} - {"alarm_class"}
        values = {name: data[name] for name in known if name in data}
        missing = [name for name in _REQUIRED if name not in data]
        if missing:
            raise ValueError(f"alarm record is missing {', '.join(missing)}")
        try:
            values["alarm_class"] = AlarmClass(data["class"])
            values["priority"] = Priority(data["priority"])
            values["state"] = AlarmState(data["state"])
        except ValueError as error:
            raise ValueError(f"alarm record {data['id']}: {error}") from None
        return cls(**values)


_WAITING_FOR_ACKNOWLEDGEMENT = frozenset(
    {AlarmState.UNACKNOWLEDGED, AlarmState.RETURNED_UNACKNOWLEDGED}
)
_REQUIRED = (
    "id",
    "rule",
    "class",
    "priority",
    "state",
    "building",
    "zone",
    "device",
    "value",
    "message",
    "raised_at",
    "observed_at",
)


def own_group(alarm_class: AlarmClass, zone: str, device: str) -> str:
    """The group of an alarm that is nobody's consequence: fire and other classes by zone, an
    alarm without a zone (a connection, the gateway itself) by its device."""
    return f"{alarm_class}@{zone or device}"
