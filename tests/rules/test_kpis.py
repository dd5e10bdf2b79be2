"""The alarm system's own health (ISA-18.2 KPIs): what counts as announced, floods, the rate
per 10 minutes, chattering and stale alarms, and the priority shares, from a real engine."""

from __future__ import annotations

from core.reading import Reading
from rules import DeviceInfo, DeviceKind, RuleEngine, RuleSet
from rules.clock import FakeClock
from rules.kpis import AlarmLoad, announced

CAMERAS = [DeviceInfo(f"CAM-{n}", DeviceKind.CAMERA, "ward-3", "ip1", 1000.0) for n in range(40)]
DEVICES = [
    DeviceInfo("panel", DeviceKind.LINK, "", "main"),
    DeviceInfo("SD-1", DeviceKind.SMOKE_DETECTOR, "ward-3", "ip1", 1000.0, link="panel"),
    DeviceInfo("SD-2", DeviceKind.SMOKE_DETECTOR, "ward-3", "ip1", 1000.0, link="panel"),
    *CAMERAS,
]


def counted() -> tuple[RuleEngine, FakeClock, AlarmLoad]:
    clock = FakeClock()
    engine = RuleEngine(DEVICES, RuleSet(), clock)
    return engine, clock, AlarmLoad(started=clock.monotonic())


def test_a_fire_is_announced_and_counted_once() -> None:
    engine, clock, load = counted()
    events = engine.on_readings([Reading("SD-1", "status", "fire")])
    load.count(events, clock.monotonic())
    assert [e.alarm_id for e in events if announced(e)] == ["fire:SD-1"]
    summary = load.summary(engine.alarms.values(), clock.monotonic())
    assert (summary.announced, summary.last_10_min, summary.in_flood) == (1, 1, False)
    assert summary.priorities == {"critical": 1.0, "high": 0.0, "medium": 0.0, "low": 0.0}


def test_what_a_person_need_not_act_on_is_not_announced() -> None:
    """Consequences held by their cause, alarms out of service, and the disablement alarm
    (raised already acknowledged) are on the feed, but nobody has to act on them."""
    engine, clock, load = counted()
    taken = engine.command("out_of_service", "CAM-1", by="li.na", duration="1h").events
    assert not [e for e in taken if announced(e)]
    engine.on_readings([Reading("panel", "up", False)])
    clock.advance(5)
    link = engine.tick()
    clock.advance(30)  # the detectors' supervision would have run out long ago: held instead
    held = engine.tick()
    assert [e.alarm_id for e in link if announced(e)] == ["link_lost:panel"]
    assert not [e for e in held if announced(e)]
    load.count([*taken, *link, *held], clock.monotonic())
    assert load.summary(engine.alarms.values(), clock.monotonic()).announced == 1


def test_forty_cameras_at_once_are_a_flood_until_the_period_passes() -> None:
    engine, clock, load = counted()
    engine.on_readings([Reading(f"CAM-{n}", "online", False) for n in range(40)])
    clock.advance(11)
    load.count(engine.tick(), clock.monotonic())
    summary = load.summary(engine.alarms.values(), clock.monotonic())
    assert summary.in_flood
    assert summary.last_10_min == summary.announced == summary.peak_10_min > 10
    assert summary.time_in_flood == 1.0
    clock.advance(24 * 60 * 60 - 60)  # a quiet day after it
    engine.tick()
    summary = load.summary(engine.alarms.values(), clock.monotonic())
    assert (summary.in_flood, summary.last_10_min) == (False, 0)
    # one 10-minute period of the day's 144 (145 when the day does not start on the 10 min)
    assert 1 / 145 <= summary.time_in_flood <= 1 / 144
    assert summary.per_10_min == summary.announced / (summary.measured_for / 600)
    clock.advance(120)
    summary = load.summary(engine.alarms.values(), clock.monotonic())
    assert (summary.announced, summary.time_in_flood, summary.priorities) == (0, 0.0, {})


def test_chattering_and_stale_alarms_are_counted_as_they_are_now() -> None:
    engine, clock, load = counted()
    for _ in range(3):  # a detector's pre-alarm flapping within the minute
        engine.on_readings([Reading("SD-2", "status", "pre_alarm")])
        clock.advance(6)
        engine.tick()
        engine.on_readings([Reading("SD-2", "status", "normal")])
        clock.advance(6)
        engine.tick()
    chattering = load.summary(engine.alarms.values(), clock.monotonic()).chattering
    engine.on_readings([Reading("SD-1", "status", "fire")])
    clock.advance(25 * 60 * 60)
    engine.tick()
    summary = load.summary(engine.alarms.values(), clock.monotonic())
    assert (chattering, summary.stale) == (1, 1)


def test_the_summary_is_plain_json() -> None:
    engine, clock, load = counted()
    clock.advance(90)
    assert load.summary(engine.alarms.values(), clock.monotonic()).to_dict() == {
        "measured_for": 90,
        "announced": 0,
        "last_10_min": 0,
        "per_10_min": 0.0,
        "peak_10_min": 0,
        "in_flood": False,
        "time_in_flood": 0.0,
        "chattering": 0,
        "stale": 0,
        "priorities": {},
    }
