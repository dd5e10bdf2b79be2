"""Escalation by the response rule: 1 minute to respond, 3 on site, 5 to contain."""

from __future__ import annotations

import pytest

from core.reading import Reading
from rules import AlarmEvent, DeviceInfo, DeviceKind, EventKind, Priority, RuleEngine, RuleSet
from rules.clock import FakeClock
from rules.policies import EscalationPolicy


def make(rules: RuleSet | None = None) -> tuple[RuleEngine, FakeClock]:
    devices = [DeviceInfo("SD-1", DeviceKind.SMOKE_DETECTOR, "icu", "ip1", 10_000.0)]
    clock = FakeClock()
    return RuleEngine(devices, rules, clock), clock


def escalations(events: list[AlarmEvent]) -> list[tuple[int, str]]:
    return [(e.alarm.escalation_level, e.cause) for e in events if e.kind is EventKind.ESCALATED]


def tick_until(
    engine: RuleEngine, clock: FakeClock, until: float, start: float = 0.0
) -> list[AlarmEvent]:
    """Tick every 0.5 s from `start` to `until` seconds after the alarm was raised."""
    events: list[AlarmEvent] = []
    for _ in range(round((until - start) / 0.5)):
        clock.advance(0.5)
        events += engine.tick()
    return events


def fire(engine: RuleEngine) -> None:
    engine.on_readings([Reading("SD-1", "status", "fire")])


@pytest.mark.parametrize(
    ("at", "level"), [(59.5, 0), (60, 1), (179.5, 1), (180, 2), (299.5, 2), (300, 3), (3600, 3)]
)
def test_nobody_responds_escalates_at_60_180_300_s(at: float, level: int) -> None:
    engine, clock = make()
    fire(engine)
    tick_until(engine, clock, at)
    assert engine.alarms["fire:SD-1"].escalation_level == level


def test_each_level_is_one_event_with_its_cause() -> None:
    engine, clock = make()
    fire(engine)
    events = tick_until(engine, clock, 900)
    assert escalations(events) == [
        (1, "not acknowledged within 60 s"),
        (2, "nobody on site within 180 s"),
        (3, "not contained within 300 s"),
    ]
    assert all(e.by is None for e in events)


def test_acknowledged_in_time_skips_level_1() -> None:
    engine, clock = make()
    fire(engine)
    events = tick_until(engine, clock, 30)
    engine.command("acknowledge", "fire:SD-1", by="alice")
    events += tick_until(engine, clock, 400, start=30)
    assert escalations(events) == [
        (2, "nobody on site within 180 s"),
        (3, "not contained within 300 s"),
    ]


def test_on_site_in_time_skips_levels_1_and_2() -> None:
    engine, clock = make()
    fire(engine)
    events = tick_until(engine, clock, 100)
    engine.command("on_site", "fire:SD-1", by="guard")
    events += tick_until(engine, clock, 400, start=100)
    assert escalations(events) == [
        (1, "not acknowledged within 60 s"),
        (3, "not contained within 300 s"),
    ]


def test_contained_in_time_stops_escalation() -> None:
    engine, clock = make()
    fire(engine)
    engine.command("on_site", "fire:SD-1", by="guard")
    tick_until(engine, clock, 200)
    engine.on_readings([Reading("SD-1", "status", "normal")])  # smoke cleared; still latched
    assert escalations(tick_until(engine, clock, 900, start=200)) == []


def test_a_late_tick_reports_every_level_that_fell_due_in_order() -> None:
    engine, clock = make()
    fire(engine)
    clock.advance(200)
    assert [level for level, _ in escalations(engine.tick())] == [1, 2]


def test_low_priority_alarms_do_not_escalate_by_default() -> None:
    engine, clock = make()
    engine.on_readings([Reading("SD-1", "status", "maintenance")])
    events = tick_until(engine, clock, 900)
    assert [str(e.kind) for e in events] == ["raised"]


def test_escalation_times_and_priorities_are_configurable() -> None:
    policy = EscalationPolicy(acknowledge=30, on_site=40, contain=50, priorities=(Priority.LOW,))
    engine, clock = make(RuleSet(escalation=policy))
    engine.on_readings([Reading("SD-1", "status", "maintenance")])
    # raised after its 10 s on-delay, so levels fall due at 40, 50 and 60 s
    assert [level for level, _ in escalations(tick_until(engine, clock, 50))] == [1, 2]
    assert [level for level, _ in escalations(tick_until(engine, clock, 60, 50))] == [3]
    engine2, clock2 = make(RuleSet(escalation=policy))
    fire(engine2)
    assert escalations(tick_until(engine2, clock2, 900)) == []


def test_a_shelved_alarm_does_not_escalate() -> None:
    engine, clock = make()
    engine.on_readings([Reading("SD-1", "status", "fault")])
    clock.advance(10)
    engine.tick()
    engine.command("shelve", "detector_fault:SD-1", by="alice", duration=600)
    assert escalations(tick_until(engine, clock, 590)) == []


def test_escalation_starts_again_for_a_new_episode() -> None:
    engine, clock = make()
    fire(engine)
    tick_until(engine, clock, 70)
    engine.command("acknowledge", "fire:SD-1", by="alice")
    engine.on_readings([Reading("SD-1", "status", "normal")])
    engine.on_readings([Reading("SD-1", "status", "fire")])  # a fresh activation
    assert engine.alarms["fire:SD-1"].escalation_level == 0
    events = tick_until(engine, clock, 60)
    assert escalations(events) == [(1, "not acknowledged within 60 s")]


def test_escalation_policy_must_not_go_backwards() -> None:
    with pytest.raises(
        ValueError,
        match="escalation times must not decrease: acknowledge 300 s, on_site 180 s, contain 300 s",
    ):
        EscalationPolicy(acknowledge=300)
