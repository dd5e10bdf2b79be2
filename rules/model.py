"""The vocabulary of the rules engine: device kinds, alarm classes, priorities and states.

These are the words a facilities engineer reads on the alarm feed, so they are enums with the
same string values everywhere: in the rule config, in alarm JSON and on MQTT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class DeviceKind(StrEnum):
    """What a device is; the rule table has one section per kind."""

    SMOKE_DETECTOR = "smoke_detector"
    HYDRANT_PRESSURE = "hydrant_pressure"
    CAMERA = "camera"
    GATEWAY = "gateway"
    """The gateway itself: its history and outbox are watched like a device (never configured)."""
    LINK = "link"
    """A connection many devices depend on (a panel's Modbus link, the broker the cameras
    publish to), watched like a device by the gateway (never configured)."""

    @property
    def label(self) -> str:
        """How a message names a device of this kind: "Smoke detector OPD-SD-003"."""
        return _KIND_LABELS[self]


_KIND_LABELS = {
    DeviceKind.SMOKE_DETECTOR: "Smoke detector",
    DeviceKind.HYDRANT_PRESSURE: "Hydrant pressure transmitter",
    DeviceKind.CAMERA: "Camera",
    DeviceKind.GATEWAY: "Gateway",
    DeviceKind.LINK: "Connection",
}


class AlarmClass(StrEnum):
    """The kind of hazard an alarm reports, in the order signals take precedence.

    NFPA 72 ranks alarm (fire) over supervisory over trouble; security and maintenance follow.
    """

    FIRE = "fire"
    SUPERVISORY = "supervisory"
    SECURITY = "security"
    TROUBLE = "trouble"
    MAINTENANCE = "maintenance"

    @property
    def rank(self) -> int:
        """0 for fire: lower ranks are published first."""
        return _CLASS_RANKS[self]


_CLASS_RANKS = {alarm_class: rank for rank, alarm_class in enumerate(AlarmClass)}


class Priority(StrEnum):
    """How urgently someone must respond. Sorts critical first (`sorted` puts it at the front)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical, 3 for low."""
        return _PRIORITY_RANKS[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Priority):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Priority):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Priority):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Priority):
            return NotImplemented
        return self.rank >= other.rank


_PRIORITY_RANKS = {priority: rank for rank, priority in enumerate(Priority)}


class AlarmState(StrEnum):
    """The ISA-18.2 alarm states (shelved, out of service and latched are flags beside them).

    - normal: no condition and nothing left to acknowledge; the alarm is gone from the feed.
    - unacknowledged: the condition is (or, when latched, was) present and nobody has responded.
    - acknowledged: someone has responded; the condition is still present or the alarm is latched.
    - returned_unacknowledged: the condition cleared before anybody acknowledged it.
    """

    NORMAL = "normal"
    UNACKNOWLEDGED = "unacknowledged"
    ACKNOWLEDGED = "acknowledged"
    RETURNED_UNACKNOWLEDGED = "returned_unacknowledged"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the rules need to know about one device: where it is and how often it must report.

    `supervision` is the device's supervision window in seconds: no good reading for that long
    is a communication loss (the gateway computes it from the poll interval, capped at 100 s).
    `nominal` holds the device's nominal values by point (a camera's configured frame rate,
    for example) for rules whose limit is a fraction of nominal.
    """

    id: str
    kind: DeviceKind
    zone: str
    building: str
    supervision: float = 3.0
    nominal: Mapping[str, float] = field(default_factory=dict)
    link: str | None = None
    """The connection its readings come through (a `LINK` device's id), if the gateway
    watches one: while that connection is lost, the device's communication loss is its
    consequence, not an alarm of its own."""

    def __post_init__(self) -> None:
        try:
            kind = DeviceKind(self.kind)
        except ValueError:
            kinds = ", ".join(DeviceKind)
            raise ValueError(
                f"device {self.id}: unknown kind {self.kind!r}; expected one of {kinds}"
            ) from None
        object.__setattr__(self, "kind", kind)
        if not self.supervision > 0:
            raise ValueError(
                f"device {self.id}: supervision must be a positive number of seconds, "
                f"got {self.supervision!r}"
            )

    @property
    def subject(self) -> str:
        """The device as a message names it: "Smoke detector OPD-SD-003"."""
        return f"{self.kind.label} {self.id}"

    @property
    def place(self) -> str:
        """Where a message says the device is: " (zone opd-1f-er)", or nothing (the gateway)."""
        return f" (zone {self.zone})" if self.zone else ""
