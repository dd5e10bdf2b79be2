"""Play timed readings through a `RuleEngine` on the fake clock and collect the events by time.

Shared by the table-driven rule tests and the golden cases (`tests/rules/golden/`): readings
are (seconds from start, reading) pairs, the engine ticks every half second as the gateway
does, and every event comes back with the second it was returned at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.reading import Quality, Reading, Value
from rules import AlarmEvent, DeviceInfo, DeviceKind, RuleEngine, RuleSet
from rules.clock import FakeClock
from rules.policies import EscalationPolicy

TICK = 0.5
"""Seconds between the engine's ticks, as the gateway calls them."""
OBSERVED_AT = 1_767_225_600_000_000_000

Timed = tuple[float, Reading]
QUIET = RuleSet(escalation=EscalationPolicy(priorities=()))
"""The default rules without escalation, so a case shows each rule's own events."""


def default_site(supervision: float = 100_000.0) -> list[DeviceInfo]:
    """Two zones: zone-a with two detectors, a hydrant and two cameras; zone-b with one
    detector and one camera. The supervision window is long unless a case asks otherwise."""
    detector, hydrant, camera = (
        DeviceKind.SMOKE_DETECTOR,
        DeviceKind.HYDRANT_PRESSURE,
        DeviceKind.CAMERA,
    )
    return [
        DeviceInfo("SD-1", detector, "zone-a", "main", supervision),
        DeviceInfo("SD-2", detector, "zone-a", "main", supervision),
        DeviceInfo("SD-3", detector, "zone-b", "main", supervision),
        DeviceInfo("HP-1", hydrant, "zone-a", "main", supervision),
        DeviceInfo("CAM-1", camera, "zone-a", "main", supervision, {"fps": 25.0}),
        DeviceInfo("CAM-2", camera, "zone-a", "main", supervision, {"fps": 30.0}),
        DeviceInfo("CAM-3", camera, "zone-b", "main", supervision),
    ]


def reading(
    device: str,
    point: str,
    value: Value | None,
    quality: Quality = Quality.GOOD,
    detail: str | None = None,
) -> Reading:
    return Reading(device, point, value, quality, None, OBSERVED_AT, detail)


def every(
    where: tuple[str, str],
    start: float,
    until: float,
    *,
    step: float,
    values: Sequence[Value | None],
    quality: Quality = Quality.GOOD,
) -> list[Timed]:
    """Readings of `where` (device, point) every `step` seconds from `start` (included) to
    `until` (excluded), cycling through `values`: `[0.095, 0.105]` oscillates around a limit."""
    device, point = where
    count = round((until - start) / step)
    return [
        (round(start + i * step, 6), reading(device, point, values[i % len(values)], quality))
        for i in range(count)
    ]


def ramp(
    where: tuple[str, str], start: float, until: float, *, step: float, first: float, last: float
) -> list[Timed]:
    """Readings of `where` every `step` seconds moving linearly from `first` (at `start`)
    towards `last` (reached at `until`, excluded): a pressure falling at a steady rate."""
    device, point = where
    count = round((until - start) / step)
    per_reading = (last - first) / count
    return [
        (round(start + i * step, 6), reading(device, point, round(first + i * per_reading, 9)))
        for i in range(count)
    ]


@dataclass
class Command:
    """A person's command at a time: `acknowledge` by the security office, say."""

    at: float
    action: str
    alarm: str
    by: str = "security office"
    args: dict[str, object] = field(default_factory=dict)


@dataclass
class Played:
    """What the engine returned, each event with the second (from the start) it came back."""

    events: list[tuple[float, AlarmEvent]]
    engine: RuleEngine
    refused: list[tuple[float, str]]

    def seen(self, alarm_id: str | None = None) -> list[tuple[float, str, str]]:
        """(second, event kind, alarm id) of each event, optionally of one alarm only."""
        return [
            (at, str(event.kind), event.alarm_id)
            for at, event in self.events
            if alarm_id in (None, event.alarm_id)
        ]


def play(
    readings: Iterable[Timed],
    until: float,
    rules: RuleSet = QUIET,
    devices: Sequence[DeviceInfo] | None = None,
    commands: Sequence[Command] = (),
) -> Played:
    """Feed each reading at its second, tick every half second, run until `until`.

    At each moment the readings come first, then the tick, then the commands of that moment.
    """
    clock = FakeClock()
    engine = RuleEngine(devices if devices is not None else default_site(), rules, clock)
    batches = _batches(readings)
    moments = sorted({*batches, *_ticks(until), *(c.at for c in commands)})
    events: list[tuple[float, AlarmEvent]] = []
    refused: list[tuple[float, str]] = []
    previous = 0.0
    for at in moments:
        clock.advance(at - previous)
        previous = at
        returned = engine.on_readings(batches.get(at, []))
        returned += engine.tick()
        for command in (c for c in commands if c.at == at):
            result = engine.command(command.action, command.alarm, command.by, **command.args)
            returned += result.events
            if not result.ok:
                refused.append((at, str(result.reason)))
        events += [(at, event) for event in returned]
    return Played(events, engine, refused)


def _batches(readings: Iterable[Timed]) -> dict[float, list[Reading]]:
    batches: dict[float, list[Reading]] = {}
    for at, one in readings:
        batches.setdefault(round(at, 6), []).append(one)
    return batches


def _ticks(until: float) -> list[float]:
    return [round(i * TICK, 6) for i in range(round(until / TICK) + 1)]
