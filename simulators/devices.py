"""Simulated device state: what each detector, hydrant and camera would measure right now.

Values wander slowly around realistic set points (a mean-reverting random walk), so plots look
like a building and not like a sine wave, and faults move them the way the real thing would:
smoke and heat climb during a fire, a burst pipe drains pressure at a rate. Each device draws
from its own `random.Random`, seeded from the site seed and its id, so a run is reproducible.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any, ClassVar

from core import Value
from gateway.config import Device, Site
from rules import DeviceKind
from simulators.faults import Fault, FaultError, LinkFault, check_fault

_FLOOR = re.compile(r"(?:^|-)(?:(\d+)f|b(\d+))(?:-|$)", re.IGNORECASE)


class Drift:
    """Mean-reverting noise (Ornstein-Uhlenbeck): wanders by about `sigma`, over `tau` seconds."""

    def __init__(self, rng: random.Random, sigma: float, tau: float) -> None:
        self.rng, self.sigma, self.tau = rng, sigma, tau
        self.value = rng.gauss(0.0, sigma)

    def step(self, dt: float) -> float:
        decay = math.exp(-dt / self.tau)
        self.value = self.value * decay + self.sigma * math.sqrt(1 - decay * decay) * (
            self.rng.gauss(0.0, 1.0)
        )
        return self.value


class SimulatedDevice:
    """One device's state. Subclasses own the physics; this class owns the link faults."""

    kind: ClassVar[DeviceKind]

    def __init__(self, device: Device, rng: random.Random) -> None:
        self.device = device
        self.rng = rng
        self.link_fault: LinkFault | None = None
        self.exception_code = 4

    @property
    def id(self) -> str:
        return self.device.id

    def apply(self, fault: str, **args: Any) -> None:
        """Put the device into a fault (or `clear` it); raises `FaultError` if it cannot."""
        kind, typed = check_fault(self.device, fault, args)
        if kind is Fault.CLEAR:
            self.link_fault, self.exception_code = None, 4
            self.clear()
        elif kind in (Fault.SILENT, Fault.EXCEPTION, Fault.GARBAGE):
            self.link_fault = LinkFault(kind.value)
            self.exception_code = typed.get("code", 4)
        else:
            self.apply_condition(kind, typed)

    def apply_condition(self, fault: Fault, args: dict[str, Any]) -> None:
        """Change what the device measures; `check_fault` has already vetted the pair."""
        raise NotImplementedError

    def clear(self) -> None:
        """Back to normal operation."""
        raise NotImplementedError

    def step(self, dt: float) -> None:
        """Advance the physics by `dt` seconds."""
        raise NotImplementedError

    def values(self) -> dict[str, Value]:
        """Current values by point name: the names the shipped profiles use."""
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-ready data, for the control interface and for tests."""
        return {
            "device": self.id,
            "kind": str(self.kind),
            "link_fault": self.link_fault,
            "values": self.values(),
            **self.conditions(),
        }

    def conditions(self) -> dict[str, Any]:
        """The faults in force, beside the values they cause."""
        return {}


class SmokeDetector(SimulatedDevice):
    """An addressable detector: a state code, chamber obscuration (%/m) and temperature (°C)."""

    kind = DeviceKind.SMOKE_DETECTOR
    _STATUS = {
        Fault.FIRE: "fire",
        Fault.PRE_ALARM: "pre_alarm",
        Fault.DETECTOR_FAULT: "fault",
        Fault.ISOLATE: "isolated",
        Fault.MAINTENANCE: "maintenance",
    }
    _SMOKE = {"pre_alarm": 1.8, "maintenance": 0.9}  # %/m held while in that state

    def __init__(self, device: Device, rng: random.Random) -> None:
        super().__init__(device, rng)
        self.status = "normal"
        self.clean = rng.uniform(0.08, 0.2)
        self.ambient = 22.0 + rng.uniform(-1.5, 1.5)
        self.smoke_noise = Drift(rng, 0.02, 120.0)
        self.heat_noise = Drift(rng, 0.2, 300.0)
        self.smoke = 0.0  # %/m added by smoke in the chamber
        self.heat = 0.0  # °C added by a fire nearby

    def apply_condition(self, fault: Fault, args: dict[str, Any]) -> None:
        self.status = self._STATUS[fault]
        if fault is Fault.FIRE:
            self.smoke = max(self.smoke, 3.2)
        else:
            self.smoke = self._SMOKE.get(self.status, self.smoke)

    def clear(self) -> None:
        self.status, self.smoke, self.heat = "normal", 0.0, 0.0

    def step(self, dt: float) -> None:
        self.smoke_noise.step(dt)
        self.heat_noise.step(dt)
        if self.status == "fire":  # smoke thickens and the room heats, up to a plateau
            self.smoke = min(self.smoke + 0.4 * dt, 15.0)
            self.heat = min(self.heat + 0.3 * dt, 45.0)

    def values(self) -> dict[str, Value]:
        obscuration = max(self.clean + self.smoke + self.smoke_noise.value, 0.01)
        return {
            "status": self.status,
            "obscuration": round(obscuration, 3),
            "temperature": round(self.ambient + self.heat + self.heat_noise.value, 2),
            "battery": 100.0,
            **vendor_points(self.status),
        }


NOTIFIER_FLAGS: dict[str, frozenset[str]] = {
    "normal": frozenset({"enabled", "inactive"}),
    "fire": frozenset({"enabled", "active"}),
    "pre_alarm": frozenset({"enabled", "inactive", "prealarm"}),
    "fault": frozenset({"enabled", "inactive", "trouble"}),
    "isolated": frozenset({"disabled", "inactive"}),
    "maintenance": frozenset({"enabled", "inactive", "trouble"}),  # a dirty head is a trouble
}
"""Our detector states as the Notifier MODBUS-GW point status flags (upper byte) show them.

A design choice of the simulator, not a vendor table: the manual names the bits but not which
combinations a panel sends for each condition."""

_NOTIFIER_BITS = (
    "ack_block",
    "prealarm",
    "trouble",
    "inactive",
    "active",
    "enabled",
    "disabled",
    "fire_acknowledged",
)


def vendor_points(status: str) -> dict[str, Value]:
    """The points vendor profiles name, derived from our detector state, so one simulated
    detector can be played through any detector profile:

    - Notifier MODBUS-GW (`notifier-modbus-gw-point`): the flags of `NOTIFIER_FLAGS`, and the
      active event type `event`, fire_alarm while in fire, else no_active_status;
    - Siemens FC20 tables (`siemens-fc20-alarm-fault`): `alarm` in fire, `fault` in fault;
    - zigbee2mqtt smoke alarms (`iot-smoke-alarm`): `smoke`, `fault`, `tamper`, `battery_low`.
    """
    flags = NOTIFIER_FLAGS[status]
    notifier: dict[str, Value] = {bit: bit in flags for bit in _NOTIFIER_BITS}
    fire = status == "fire"
    return {
        **notifier,
        "event": "fire_alarm" if fire else "no_active_status",
        "alarm": fire,
        "fault": status == "fault",
        "smoke": fire,
        "tamper": False,
        "battery_low": False,
    }


class HydrantPressure(SimulatedDevice):
    """A 4-20 mA pressure transmitter on a hydrant riser: static pressure by floor, in MPa."""

    kind = DeviceKind.HYDRANT_PRESSURE

    def __init__(
        self, device: Device, rng: random.Random, span: tuple[float, float], floor: int
    ) -> None:
        super().__init__(device, rng)
        self.low, self.high = span
        # Higher floors sit higher on the riser: 0.44 MPa in the basement, 0.35 on the 6th.
        self.static = 0.44 - 0.0125 * (min(max(floor, -1), 6) + 1) + rng.uniform(-0.005, 0.005)
        self.noise = Drift(rng, 0.003, 30.0)
        self.drop = 0.0  # MPa lost so far to an open valve or a burst pipe
        self.drop_target: float | None = None  # pressure the drop heads for, MPa
        self.drop_rate = 0.0  # MPa per second
        self.sensor_ma: float | None = None  # a broken transmitter's stuck loop current

    def apply_condition(self, fault: Fault, args: dict[str, Any]) -> None:
        if fault is Fault.PRESSURE_DROP:
            self.drop_target = args.get("to", 0.05)
            self.drop_rate = args.get("rate", 0.5) / 60.0
        else:
            self.sensor_ma = args.get("ma", 2.0)

    def clear(self) -> None:
        self.drop, self.drop_target, self.drop_rate, self.sensor_ma = 0.0, None, 0.0, None

    def step(self, dt: float) -> None:
        self.noise.step(dt)
        if self.drop_target is not None:
            wanted = max(self.static - self.drop_target, 0.0)
            self.drop = min(self.drop + self.drop_rate * dt, wanted)

    @property
    def pressure(self) -> float:
        return max(self.static - self.drop + self.noise.value, 0.0)

    @property
    def loop_current(self) -> float:
        """The transmitter's output in mA; a healthy one saturates at 3.8 and 20.5 (NE 43)."""
        if self.sensor_ma is not None:
            return self.sensor_ma
        milliamps = 4.0 + 16.0 * (self.pressure - self.low) / (self.high - self.low)
        return min(max(milliamps, 3.8), 20.5)

    def values(self) -> dict[str, Value]:
        return {"pressure": round(self.pressure, 4), "loop_current": round(self.loop_current, 3)}

    def conditions(self) -> dict[str, Any]:
        return {"drop_target": self.drop_target, "sensor_fault_ma": self.sensor_ma}


class Camera(SimulatedDevice):
    """An HD camera as its NVR sees it: stream health, recording, retention and events."""

    kind = DeviceKind.CAMERA
    NOMINAL_FPS = 25.0
    NOMINAL_KBPS = 4096.0
    DISK_FREE = 40.0  # % of the NVR's disks still free; no fault changes it yet

    def __init__(self, device: Device, rng: random.Random) -> None:
        super().__init__(device, rng)
        self.events: set[Fault] = set()
        self.retention_days = 92 + rng.randint(0, 2)
        self.fps_noise = Drift(rng, 0.15, 20.0)
        self.bitrate_noise = Drift(rng, 0.03, 20.0)
        self.heat_noise = Drift(rng, 0.5, 300.0)
        self.ambient = 38.0 + rng.uniform(-3.0, 3.0)

    def apply_condition(self, fault: Fault, args: dict[str, Any]) -> None:
        self.events.add(fault)

    def clear(self) -> None:
        self.events.clear()

    def step(self, dt: float) -> None:
        for noise in (self.fps_noise, self.bitrate_noise, self.heat_noise):
            noise.step(dt)

    def values(self) -> dict[str, Value]:
        online = Fault.CAMERA_OFFLINE not in self.events
        streaming = online and Fault.VIDEO_LOSS not in self.events
        fps = self.NOMINAL_FPS - abs(self.fps_noise.value) if streaming else 0.0
        kbps = self.NOMINAL_KBPS * (1 + self.bitrate_noise.value) if streaming else 0.0
        return {
            "online": online,
            "recording": online and Fault.NOT_RECORDING not in self.events,
            "fps": round(fps, 2),
            "bitrate": round(kbps, 1),
            "retention_days": self.retention_days,
            "tamper": online and Fault.TAMPER in self.events,
            "video_loss": online and Fault.VIDEO_LOSS in self.events,
            "temperature": round(self.ambient + self.heat_noise.value, 1),
            "file_retained": "normal",
            "disk_free": self.DISK_FREE,
        }

    def conditions(self) -> dict[str, Any]:
        return {"events": sorted(self.events)}


class DeviceFleet:
    """Every simulated device of a site, by id; the one place faults are applied."""

    def __init__(self, site: Site, seed: int = 0) -> None:
        self.site = site
        self.devices: dict[str, SimulatedDevice] = {
            device.id: _simulate(site, device, random.Random(f"{seed}/{device.id}"))
            for device in site.config.devices
        }

    def __getitem__(self, device_id: str) -> SimulatedDevice:
        try:
            return self.devices[device_id]
        except KeyError:
            raise FaultError(f"unknown device {device_id!r}") from None

    def apply(self, fault: str, device: str, **args: Any) -> None:
        """Apply a fault to a device by id; raises `FaultError` naming what is wrong."""
        self[device].apply(fault, **args)

    def step(self, dt: float) -> None:
        """Advance every device by `dt` seconds."""
        for device in self.devices.values():
            device.step(dt)


def _simulate(site: Site, device: Device, rng: random.Random) -> SimulatedDevice:
    if device.kind is DeviceKind.SMOKE_DETECTOR:
        return SmokeDetector(device, rng)
    if device.kind is DeviceKind.CAMERA:
        return Camera(device, rng)
    return HydrantPressure(device, rng, _loop_span(site, device), floor_of(device.zone))


def _loop_span(site: Site, device: Device) -> tuple[float, float]:
    """The transmitter range from the profile's current loop, or the typical 0-1.6 MPa."""
    profile = site.profiles[device.profile]
    for point in profile.points:
        loop = getattr(point, "current_loop", None)
        if loop is not None:
            return loop.low, loop.high
    return 0.0, 1.6


def floor_of(zone: str) -> int:
    """The storey a zone id names (`opd-4f-or` -> 4, `ip1-b1-kitchen` -> -1), else 1."""
    match = _FLOOR.search(zone)
    if match is None:
        return 1
    return int(match[1]) if match[1] else -int(match[2])
