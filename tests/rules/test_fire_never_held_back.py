"""A fire is never held back: no grouping, cause and consequence, flood, shelving, out of
service or rule override keeps a detector's fire from coming back out of the engine at once,
in the very call that read it, first."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.reading import Reading
from rules import DeviceInfo, DeviceKind, EventKind, RuleEngine, RuleSet
from rules.clock import FakeClock

DEVICES = [
    DeviceInfo("panel", DeviceKind.LINK, "", "main"),
    DeviceInfo("SD-1", DeviceKind.SMOKE_DETECTOR, "ward-3", "ip1", 3.0, link="panel"),
    DeviceInfo("SD-2", DeviceKind.SMOKE_DETECTOR, "ward-3", "ip1", 3.0, link="panel"),
    *(DeviceInfo(f"CAM-{n}", DeviceKind.CAMERA, "ward-3", "ip1", 3.0) for n in range(40)),
]


def engine_with(rules: RuleSet | None = None) -> tuple[RuleEngine, FakeClock]:
    clock = FakeClock()
    return RuleEngine(DEVICES, rules or RuleSet(), clock), clock


def link_down(engine: RuleEngine, clock: FakeClock) -> None:
    """The panel's link lost, for longer than its on-delay: its consequences are held."""
    engine.on_readings([Reading("panel", "up", False)])
    clock.advance(5)
    engine.tick()


def detector_out_of_service(engine: RuleEngine, clock: FakeClock) -> None:
    assert engine.command("out_of_service", "SD-1", by="li.na", duration="1h").ok


def zone_out_of_service(engine: RuleEngine, clock: FakeClock) -> None:
    assert engine.command("out_of_service", "ward-3", by="li.na", duration="1h").ok


def zone_in_flood(engine: RuleEngine, clock: FakeClock) -> None:
    """Forty cameras of the zone offline at once: a flood, and a blind spot."""
    engine.on_readings([Reading(f"CAM-{n}", "online", False) for n in range(40)])
    clock.advance(11)
    engine.tick()


def another_fire_acknowledged_as_a_group(engine: RuleEngine, clock: FakeClock) -> None:
    engine.on_readings([Reading("SD-2", "status", "fire")])
    assert engine.command("acknowledge", "fire@ward-3", by="chen.wei").ok


def fire_shelving_tried(engine: RuleEngine, clock: FakeClock) -> None:
    assert not engine.command("shelve", "fire:SD-1", by="li.na", duration="10m").ok


def every_way_at_once(engine: RuleEngine, clock: FakeClock) -> None:
    ways = (link_down, zone_in_flood, detector_out_of_service, zone_out_of_service)
    for way in (*ways, fire_shelving_tried):
        way(engine, clock)


WAYS: dict[str, Callable[[RuleEngine, FakeClock], None]] = {
    "its link lost (cause and consequence)": link_down,
    "the detector out of service": detector_out_of_service,
    "its zone out of service": zone_out_of_service,
    "a flood in its zone": zone_in_flood,
    "its group acknowledged before": another_fire_acknowledged_as_a_group,
    "shelving it tried": fire_shelving_tried,
    "all of them": every_way_at_once,
}


@pytest.mark.parametrize("way", WAYS.values(), ids=WAYS.keys())
def test_a_detectors_fire_comes_out_at_once_and_first(
    way: Callable[[RuleEngine, FakeClock], None],
) -> None:
    engine, clock = engine_with()
    way(engine, clock)
    events = engine.on_readings([Reading("SD-1", "status", "fire")])
    raised = [e for e in events if e.alarm_id == "fire:SD-1" and e.kind is EventKind.RAISED]
    assert raised, "the fire must be raised by the reading itself"
    assert events[0] is raised[0] or events[0].alarm.is_fire  # fire is published first
    fire = raised[0].alarm
    assert (fire.held_by, fire.needs_person, fire.shelved) == (None, True, False)


def test_no_site_file_can_make_a_fire_a_consequence() -> None:
    """Overrides cannot set `held_by` at all, and a site's own fire rule may not have one."""
    heat = {
        "type": "threshold",
        "name": "heat",
        "kind": "smoke_detector",
        "point": "temperature",
        "direction": "above",
        "limit": 57,
        "text": "over 57 C",
        "alarm_class": "fire",
        "priority": "critical",
        "held_by": ["link"],
    }
    with pytest.raises(ValueError, match="rule 'heat' is a fire rule: a fire is never held back"):
        RuleSet.model_validate({"extra": [heat]})
    with pytest.raises(ValueError, match="held_by"):
        RuleSet.model_validate({"devices": {"SD-1": {"fire": {"held_by": ["link"]}}}})
