"""What the site is doing right now: readings per building and device kind, and state changes.

A hub subscriber that keeps the latest value of every point, so the demo screen and the
periodic log can say "36 of 36 detectors reporting, lowest hydrant pressure 0.38 MPa".
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from core import Quality, Reading, Value
from gateway.config import Site
from rules import DeviceKind


@dataclass(frozen=True, slots=True)
class Change:
    """A state-like point (a status, a flag, a reading's quality) that changed value."""

    at: float
    device: str
    point: str
    before: str
    after: str


@dataclass
class DeviceActivity:
    """One device: its latest values, when it last read well, and what went wrong.

    Times are on the monotonic clock. `errors` counts failed polls or messages by the kind of
    failure (a reading quality such as ``timeout`` or ``exception``): one per batch of
    readings however many points it had, so a timeout of a four-point device counts once.
    """

    last_good: float | None = None
    readings: int = 0
    bad: int = 0
    values: dict[str, Value | None] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None
    last_error_at: float | None = None


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """One building's devices of one kind."""

    devices: int
    reporting: int
    readings: int
    not_normal: tuple[str, ...]
    lowest: float | None


class SiteActivity:
    """Latest values per device, with a bounded log of state changes."""

    def __init__(self, site: Site, *, history: int = 12) -> None:
        self.site = site
        self.devices = {device_id: DeviceActivity() for device_id in site.devices}
        self.changes: deque[Change] = deque(maxlen=history)
        self.total = 0

    async def __call__(self, readings: Sequence[Reading]) -> None:
        now = time.monotonic()
        failed: dict[tuple[str, Quality], str | None] = {}
        for reading in readings:
            if not self._record(reading, now):
                failed.setdefault((reading.device, reading.quality), reading.detail)
        for (device, quality), detail in failed.items():
            activity = self.devices[device]
            activity.errors[quality.value] += 1
            activity.last_error = detail or quality.value
            activity.last_error_at = now

    def _record(self, reading: Reading, now: float) -> bool:
        """Record one reading; False if it is a bad reading of one of the site's devices."""
        activity = self.devices.get(reading.device)
        if activity is None:
            return True
        self.total += 1
        activity.readings += 1
        activity.values[reading.point] = reading.value
        if reading.good:
            activity.last_good = now
        else:
            activity.bad += 1
        state = _state_of(reading)
        before = activity.states.get(reading.point)
        activity.states[reading.point] = state
        if before is not None and before != state:
            self.changes.append(Change(now, reading.device, reading.point, before, state))
        return reading.good

    def summary(self, building: str, kind: DeviceKind) -> GroupSummary:
        now = time.monotonic()
        devices = [
            d
            for d in self.site.config.devices
            if d.kind is kind and self.site.zones[d.zone].building == building
        ]
        reporting = [
            d for d in devices if _recent(self.devices[d.id], now, self.site.supervision(d))
        ]
        not_normal = tuple(d.id for d in devices if _abnormal(self.devices[d.id], kind))
        pressures = [
            v for d in devices if isinstance(v := self.devices[d.id].values.get("pressure"), float)
        ]
        return GroupSummary(
            len(devices),
            len(reporting),
            sum(self.devices[d.id].readings for d in devices),
            not_normal,
            min(pressures) if pressures else None,
        )


def _state_of(reading: Reading) -> str:
    """A status or flag's value; for a measurement, whether it is good."""
    if not reading.good:
        return reading.quality.value
    if isinstance(reading.value, bool | str):
        return str(reading.value).lower()
    return "good"


def _recent(activity: DeviceActivity, now: float, window: float) -> bool:
    return activity.last_good is not None and now - activity.last_good <= window


_NORMAL_STATES = {
    "status": "normal",
    "online": "true",
    "recording": "true",
    "tamper": "false",
    "video_loss": "false",
}
_WATCHED = {
    DeviceKind.SMOKE_DETECTOR: ("status",),
    DeviceKind.CAMERA: ("online", "recording", "tamper", "video_loss"),
    DeviceKind.HYDRANT_PRESSURE: ("pressure",),
}


def is_normal(point: str, state: str) -> bool:
    """Whether a point's state is its healthy one (a measurement's is simply "good")."""
    return state == _NORMAL_STATES.get(point, "good")


def _abnormal(activity: DeviceActivity, kind: DeviceKind) -> bool:
    return any(
        not is_normal(point, activity.states.get(point, _NORMAL_STATES.get(point, "good")))
        for point in _WATCHED[kind]
    )
