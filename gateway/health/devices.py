"""Device health: is each device answering, and how well?

Per device: when it last gave a good reading, its failures counted by kind, the Modbus round
trip of its latest answered request, and one of four states:

- **ok**: a good reading within its supervision window and no failure for `RECENT` seconds;
- **degraded**: it answers, but something failed in the last `RECENT` seconds (a timeout, a
  Modbus exception, a rejected MQTT payload), or one of its points reads bad right now
  (a 4-20 mA loop out of range, a field of the wrong type);
- **lost**: no good reading for longer than its supervision window (the same window after
  which the rules raise "communication lost");
- **waiting**: nothing yet, within the first supervision window after start-up.

The figures come from the hub's `SiteActivity` and the drivers' own counters; nothing here
touches the network.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from core import Quality
from gateway.config import MqttSource, Site
from gateway.health.activity import DeviceActivity, SiteActivity

__all__ = ["RECENT", "DeviceHealth", "HealthBook", "HealthState", "count_states"]

RECENT = 60.0
"""Seconds a failure keeps a device `degraded` after its last occurrence."""

log = logging.getLogger(__name__)

_BAD_STATES = frozenset(quality.value for quality in Quality if quality is not Quality.GOOD)
REJECTED = "rejected"
"""The error kind of an MQTT payload the profile refused."""


class HealthState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    LOST = "lost"
    WAITING = "waiting"


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """One device's health at one moment. `last_good` is wall-clock ns since the epoch;
    `round_trip` seconds (Modbus only)."""

    device: str
    state: HealthState
    last_good: int | None
    readings: int
    errors: Mapping[str, int]
    last_error: str | None
    round_trip: float | None

    def as_dict(self) -> dict[str, object]:
        """For the status document: the device id is the key, so it is left out here."""
        return {
            "state": self.state.value,
            "last_good": self.last_good,
            "readings": self.readings,
            "errors": dict(self.errors),
            "last_error": self.last_error,
            "round_trip_ms": None if self.round_trip is None else round(self.round_trip * 1e3, 2),
        }


class HealthBook:
    """Health of every device of a site, computed on demand from what the gateway already counts.

    Args:
        site: the site, for each device's supervision window.
        activity: the hub subscriber that records every reading.
        round_trips: the Modbus round trip by device id (`EndpointStats.round_trip`).
        rejected: rejected MQTT payloads so far by device id (`MqttStats.rejected`).
    """

    def __init__(
        self,
        site: Site,
        activity: SiteActivity,
        *,
        round_trips: Callable[[], Mapping[str, float]] = dict,
        rejected: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        self.site = site
        self.activity = activity
        self._round_trips = round_trips
        self._rejected = rejected
        self._started = time.monotonic()
        self._rejects_seen: Counter[str] = Counter()
        self._rejected_at: dict[str, float] = {}
        self._topics = {
            device.id: site.mqtt_topic(device).topic
            for device in site.config.devices
            if isinstance(device.source, MqttSource)
        }
        """Each MQTT device's topic: a device that never got a message there is named so."""
        self._never_heard_logged: set[str] = set()

    def snapshot(self) -> list[DeviceHealth]:
        """Every configured device, in config order."""
        now, wall = time.monotonic(), time.time_ns()
        self._note_rejects(now)
        round_trips = self._round_trips()
        health = [
            self._health(
                device.id, self.site.supervision(device), now, wall, round_trips.get(device.id)
            )
            for device in self.site.config.devices
        ]
        self._log_never_heard(health)
        return health

    def _log_never_heard(self, health: list[DeviceHealth]) -> None:
        """One line for the MQTT devices found lost without a single message since start: a
        topic in the site file that is not the one the device publishes on, most often."""
        silent = [
            h.device
            for h in health
            if h.state is HealthState.LOST
            and not h.readings
            and h.device in self._topics
            and h.device not in self._never_heard_logged
        ]
        if not silent:
            return
        self._never_heard_logged.update(silent)
        shown = ", ".join(f"{d} on {self._topics[d]}" for d in silent[:5])
        more = f" and {len(silent) - 5} more" if len(silent) > 5 else ""
        log.warning(
            "mqtt: %d devices have received nothing since the gateway started (%s%s): check "
            "their topics in the site file against what they publish (mosquitto_sub -v -t '#')",
            len(silent),
            shown,
            more,
        )

    def _health(
        self, device: str, window: float, now: float, wall: int, round_trip: float | None
    ) -> DeviceHealth:
        activity = self.activity.devices[device]
        errors = dict(activity.errors)
        last_error = activity.last_error
        if rejected := self._rejects_seen.get(device):
            errors[REJECTED] = rejected
            if self._rejected_at.get(device, -1.0) >= (activity.last_error_at or -1.0):
                last_error = "payload rejected by the profile"
        last_good = activity.last_good
        state = self._state(device, activity, window, now)
        if state is HealthState.LOST and not activity.readings and device in self._topics:
            last_error = last_error or _never_heard(self._topics[device])
        return DeviceHealth(
            device=device,
            state=state,
            last_good=None if last_good is None else wall - int((now - last_good) * 1e9),
            readings=activity.readings,
            errors=errors,
            last_error=last_error,
            round_trip=round_trip,
        )

    def _state(
        self, device: str, activity: DeviceActivity, window: float, now: float
    ) -> HealthState:
        if activity.last_good is None:
            return HealthState.WAITING if now - self._started <= window else HealthState.LOST
        if now - activity.last_good > window:
            return HealthState.LOST
        failed_at = max(activity.last_error_at or -RECENT, self._rejected_at.get(device, -RECENT))
        if now - failed_at < RECENT or _bad_point(activity):
            return HealthState.DEGRADED
        return HealthState.OK

    def _note_rejects(self, now: float) -> None:
        """When a device's rejected count grew since the last look, it failed just now."""
        for device, count in self._rejected().items():
            if count > self._rejects_seen.get(device, 0):
                self._rejects_seen[device] = count
                self._rejected_at[device] = now


def _never_heard(topic: str) -> str:
    return f"nothing received on {topic} since start: is this the topic it publishes on?"


def _bad_point(activity: DeviceActivity) -> bool:
    """Whether the latest reading of some point was bad."""
    return any(state in _BAD_STATES for state in activity.states.values())


def count_states(health: list[DeviceHealth]) -> dict[str, int]:
    """How many devices are in each state (every state named, zeros included)."""
    counts = Counter(device.state for device in health)
    return {state.value: counts.get(state, 0) for state in HealthState}
