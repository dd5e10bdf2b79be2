"""Restart recovery: alarms saved as JSON and restored into a new engine lose nothing and are
not raised again."""

from __future__ import annotations

import json

from core.reading import Reading, Value
from rules import (
    Alarm,
    AlarmEvent,
    AlarmState,
    DeviceInfo,
    DeviceKind,
    EventKind,
    RuleEngine,
    RuleSet,
)
from rules.clock import FakeClock
from rules.specs import RuleOverride

DEVICES = [
    DeviceInfo("SD-1", DeviceKind.SMOKE_DETECTOR, "er", "opd", 1000.0),
    DeviceInfo("SD-2", DeviceKind.SMOKE_DETECTOR, "er", "opd", 1000.0),
    DeviceInfo("CAM-1", DeviceKind.CAMERA, "er", "opd", 1000.0),
]


def make(rules: RuleSet | None = None, clock: FakeClock | None = None) -> RuleEngine:
    return RuleEngine(DEVICES, rules, clock or FakeClock())


def status(engine: RuleEngine, device: str, value: Value) -> list[AlarmEvent]:
    return engine.on_readings([Reading(device, "status", value)])


def restart(
    engine: RuleEngine, rules: RuleSet | None = None
) -> tuple[RuleEngine, list[AlarmEvent]]:
    """Save every alarm as JSON, as the alarm store does, and restore into a new engine."""
    saved = json.dumps([alarm.to_dict() for alarm in engine.alarms.values()])
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    clock.advance(5)  # the restart takes a while; the new process has a new monotonic clock
    new_clock = FakeClock(monotonic=0.0, wall_ns=clock.wall_ns())
    fresh = make(rules, new_clock)
    events = fresh.restore(Alarm.from_dict(data) for data in json.loads(saved))
    return fresh, events


def test_an_unacknowledged_alarm_survives_a_restart_and_is_not_raised_again() -> None:
    engine = make()
    status(engine, "SD-1", "pre_alarm")
    fresh, events = restart(engine)
    assert events == []
    assert fresh.alarms["pre_alarm:SD-1"].state is AlarmState.UNACKNOWLEDGED
    assert status(fresh, "SD-1", "pre_alarm") == []
    result = fresh.command("acknowledge", "pre_alarm:SD-1", by="alice")
    assert [e.kind for e in result.events] == [EventKind.ACKNOWLEDGED]


def test_an_acknowledged_alarm_is_not_raised_again_and_clears_normally() -> None:
    engine = make()
    status(engine, "SD-1", "pre_alarm")
    engine.command("acknowledge", "pre_alarm:SD-1", by="alice")
    fresh, _ = restart(engine)
    assert status(fresh, "SD-1", "pre_alarm") == []
    alarm = fresh.alarms["pre_alarm:SD-1"]
    assert (alarm.state, alarm.acknowledged_by) == (AlarmState.ACKNOWLEDGED, "alice")
    assert [str(e.kind) for e in status(fresh, "SD-1", "normal")] == ["cleared"]


def test_a_condition_gone_during_the_restart_returns_to_normal() -> None:
    engine = make()
    status(engine, "SD-1", "pre_alarm")
    fresh, _ = restart(engine)
    events = status(fresh, "SD-1", "normal")
    assert [(str(e.kind), str(e.alarm.state)) for e in events] == [
        ("returned_to_normal", "returned_unacknowledged")
    ]


def test_a_latched_fire_stays_latched_and_can_be_reset_after_a_restart() -> None:
    engine = make()
    status(engine, "SD-1", "fire")
    status(engine, "SD-1", "normal")
    engine.command("acknowledge", "fire:SD-1", by="alice")
    fresh, _ = restart(engine)
    assert status(fresh, "SD-1", "normal") == []
    assert fresh.alarms["fire:SD-1"].state is AlarmState.ACKNOWLEDGED
    assert fresh.command("reset", "fire:SD-1", by="warden").ok
    assert fresh.alarms == {}


def test_a_confirmed_fire_is_not_raised_again_after_a_restart() -> None:
    engine = make()
    status(engine, "SD-1", "fire")
    status(engine, "SD-2", "fire")
    for alarm_id in ("fire:SD-1", "fire:SD-2", "confirmed_fire:er"):
        engine.command("acknowledge", alarm_id, by="alice")
    fresh, events = restart(engine)
    assert events == []
    assert status(fresh, "SD-1", "fire") == []
    assert status(fresh, "SD-2", "fire") == []
    status(fresh, "SD-1", "normal")
    events = status(fresh, "SD-2", "normal")
    kinds = [(str(e.kind), e.alarm_id) for e in events]
    assert ("returned_to_normal", "confirmed_fire:er") in kinds
    for alarm_id in ("fire:SD-1", "fire:SD-2", "confirmed_fire:er"):
        assert fresh.command("reset", alarm_id, by="warden").ok, alarm_id
    assert fresh.alarms == {}


def test_a_blind_spot_survives_a_restart_and_clears_with_its_camera() -> None:
    engine = make()
    engine.on_readings([Reading("CAM-1", "recording", False)])
    engine.clock.advance(10)  # type: ignore[attr-defined]
    engine.tick()
    engine.command("acknowledge", "blind_spot:er", by="alice")
    fresh, events = restart(engine)
    assert events == []
    assert fresh.on_readings([Reading("CAM-1", "recording", False)]) == []
    events = fresh.on_readings([Reading("CAM-1", "recording", True)])
    assert sorted(str(e.kind) + " " + e.alarm_id for e in events) == [
        "cleared blind_spot:er",
        "returned_to_normal camera_not_recording:CAM-1",
    ]


def _tamper(engine: RuleEngine) -> FakeClock:
    """Camera CAM-1 tampered with: raised after its 10 s on-delay."""
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    engine.on_readings([Reading("CAM-1", "tamper", True)])
    clock.advance(10)
    engine.tick()
    return clock


def _advance(engine: RuleEngine, seconds: float) -> list[AlarmEvent]:
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    clock.advance(seconds)
    return engine.tick()


def test_escalation_deadlines_carry_over_a_restart() -> None:
    engine = make()
    clock = _tamper(engine)
    clock.advance(40)
    fresh, _ = restart(engine)  # 5 s pass during the restart: 45 s since the alarm was raised
    assert _advance(fresh, 14.5) == []
    events = _advance(fresh, 0.5)
    assert [(str(e.kind), e.cause) for e in events] == [
        ("escalated", "not acknowledged within 60 s")
    ]


def test_shelving_expiry_carries_over_a_restart() -> None:
    engine = make()
    clock = _tamper(engine)
    engine.command("shelve", "camera_tamper:CAM-1", by="alice", duration=120)
    clock.advance(40)
    fresh, _ = restart(engine)  # 5 s pass during the restart: 75 s of shelving left
    assert fresh.alarms["camera_tamper:CAM-1"].shelved_by == "alice"
    assert _advance(fresh, 74.5) == []
    assert [str(e.kind) for e in _advance(fresh, 0.5)] == ["unshelved"]
    # escalation counts from the moment it is in front of people again
    assert _advance(fresh, 59.5) == []
    assert [str(e.kind) for e in _advance(fresh, 0.5)] == ["escalated"]


def test_an_alarm_whose_rule_was_removed_has_its_condition_cleared() -> None:
    engine = make()
    status(engine, "SD-1", "pre_alarm")
    no_pre_alarm = RuleSet(
        kinds={DeviceKind.SMOKE_DETECTOR: {"pre_alarm": RuleOverride(enabled=False)}}
    )
    fresh, events = restart(engine, no_pre_alarm)
    assert [(str(e.kind), e.cause) for e in events] == [
        ("returned_to_normal", "rule no longer configured")
    ]
    assert fresh.command("acknowledge", "pre_alarm:SD-1", by="alice").ok
    assert fresh.alarms == {}


def test_restore_keeps_the_activation_count() -> None:
    engine = make()
    for _ in range(2):
        status(engine, "SD-1", "pre_alarm")
        status(engine, "SD-1", "normal")
    status(engine, "SD-1", "pre_alarm")
    fresh, _ = restart(engine)
    status(fresh, "SD-1", "normal")
    status(fresh, "SD-1", "pre_alarm")
    assert fresh.alarms["pre_alarm:SD-1"].activations == 4
