"""The alarm lifecycle: raise, acknowledge, return, clear, latch and reset, shelve, out of
service, on site, chattering, refused commands and publication order."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from core.reading import Reading, Value
from rules import (
    Action,
    Alarm,
    AlarmEvent,
    AlarmState,
    DeviceInfo,
    DeviceKind,
    EventKind,
    Priority,
    RuleEngine,
    RuleSet,
)
from rules.clock import FakeClock
from rules.policies import EscalationPolicy

QUIET = RuleSet(escalation=EscalationPolicy(priorities=()))
NORMAL, UNACK, ACK = AlarmState.NORMAL, AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED
RETURNED = AlarmState.RETURNED_UNACKNOWLEDGED


def make(rules: RuleSet = QUIET) -> tuple[RuleEngine, FakeClock]:
    devices = [
        DeviceInfo("SD-1", DeviceKind.SMOKE_DETECTOR, "ward-3", "ip1", 1000.0),
        DeviceInfo("SD-2", DeviceKind.SMOKE_DETECTOR, "ward-3", "ip1", 1000.0),
        DeviceInfo("SD-3", DeviceKind.SMOKE_DETECTOR, "ward-4", "ip1", 1000.0),
        DeviceInfo("HP-1", DeviceKind.HYDRANT_PRESSURE, "ward-3", "ip1", 1000.0),
        DeviceInfo("CAM-1", DeviceKind.CAMERA, "ward-3", "ip1", 1000.0),
    ]
    clock = FakeClock()
    return RuleEngine(devices, rules, clock), clock


def status(engine: RuleEngine, device: str, value: Value) -> list[AlarmEvent]:
    return engine.on_readings([Reading(device, "status", value, observed_at=123)])


def seen(events: list[AlarmEvent]) -> list[tuple[str, str, str]]:
    """(kind, alarm id, state after) of each event."""
    return [(str(e.kind), e.alarm_id, str(e.alarm.state)) for e in events]


def state(engine: RuleEngine, alarm_id: str) -> AlarmState:
    alarm = engine.alarms.get(alarm_id)
    return NORMAL if alarm is None else alarm.state


# --- the ISA-18.2 transitions -------------------------------------------------------------


def test_raise_acknowledge_clear() -> None:
    engine, clock = make()
    assert seen(status(engine, "SD-1", "pre_alarm")) == [
        ("raised", "pre_alarm:SD-1", "unacknowledged")
    ]
    clock.advance(5)
    result = engine.command(Action.ACKNOWLEDGE, "pre_alarm:SD-1", by="nurse station 3")
    assert result.ok
    assert result.reason is None
    assert seen(result.events) == [("acknowledged", "pre_alarm:SD-1", "acknowledged")]
    alarm = engine.alarms["pre_alarm:SD-1"]
    assert alarm.acknowledged_by == "nurse station 3"
    assert alarm.acknowledged_at == clock.wall_ns()
    assert result.events[0].by == "nurse station 3"
    assert seen(status(engine, "SD-1", "normal")) == [("cleared", "pre_alarm:SD-1", "normal")]
    assert engine.alarms == {}


def test_return_before_acknowledge_then_acknowledge_removes_it() -> None:
    engine, _ = make()
    status(engine, "SD-1", "pre_alarm")
    assert seen(status(engine, "SD-1", "normal")) == [
        ("returned_to_normal", "pre_alarm:SD-1", "returned_unacknowledged")
    ]
    assert state(engine, "pre_alarm:SD-1") is RETURNED
    result = engine.command("acknowledge", "pre_alarm:SD-1", by="alice")
    assert seen(result.events) == [("acknowledged", "pre_alarm:SD-1", "normal")]
    assert result.events[0].cause == "acknowledged after the condition had gone"
    assert engine.alarms == {}


def test_returned_unacknowledged_alarm_that_comes_back_is_unacknowledged_again() -> None:
    engine, _ = make()
    status(engine, "SD-1", "pre_alarm")
    status(engine, "SD-1", "normal")
    assert seen(status(engine, "SD-1", "pre_alarm")) == [
        ("raised", "pre_alarm:SD-1", "unacknowledged")
    ]
    assert engine.alarms["pre_alarm:SD-1"].activations == 2


def test_event_carries_time_cause_and_a_snapshot() -> None:
    engine, clock = make()
    (event,) = status(engine, "SD-1", "fire")
    assert event.at == clock.wall_ns()
    assert event.cause == "condition present"
    assert event.by is None
    assert event.alarm.observed_at == 123
    assert event.alarm.raised_at == clock.wall_ns()
    engine.command("acknowledge", "fire:SD-1", by="alice")
    assert event.alarm.state is UNACK  # the snapshot does not move with the alarm


# --- latched fire alarms and reset --------------------------------------------------------


def test_fire_is_latched_until_reset_by_a_person() -> None:
    engine, _ = make()
    status(engine, "SD-1", "fire")
    events = status(engine, "SD-1", "normal")
    assert seen(events) == [("returned_to_normal", "fire:SD-1", "unacknowledged")]
    assert events[0].cause == "condition gone; latched until reset"
    alarm = engine.alarms["fire:SD-1"]
    assert (alarm.state, alarm.active, alarm.latched) == (UNACK, False, True)
    engine.command("acknowledge", "fire:SD-1", by="alice")
    assert state(engine, "fire:SD-1") is ACK
    result = engine.command("reset", "fire:SD-1", by="fire warden")
    assert seen(result.events) == [("reset", "fire:SD-1", "normal")]
    assert result.events[0].by == "fire warden"
    assert engine.alarms == {}


def test_acknowledged_fire_stays_while_the_detector_is_in_fire() -> None:
    engine, clock = make()
    status(engine, "SD-1", "fire")
    engine.command("acknowledge", "fire:SD-1", by="alice")
    clock.advance(600)
    assert status(engine, "SD-1", "fire") == []
    assert state(engine, "fire:SD-1") is ACK


def test_reset_is_refused_while_still_in_fire() -> None:
    engine, _ = make()
    status(engine, "SD-1", "fire")
    engine.command("acknowledge", "fire:SD-1", by="alice")
    result = engine.command("reset", "fire:SD-1", by="alice")
    assert not result.ok
    assert result.reason == "alarm fire:SD-1 cannot be reset while its condition is still present"
    assert result.events == []
    assert state(engine, "fire:SD-1") is ACK


def test_reset_of_an_unacknowledged_latched_alarm_acknowledges_it() -> None:
    engine, _ = make()
    status(engine, "SD-1", "fire")
    status(engine, "SD-1", "normal")
    result = engine.command("reset", "fire:SD-1", by="warden")
    assert seen(result.events) == [("reset", "fire:SD-1", "normal")]
    assert result.events[0].alarm.acknowledged_by == "warden"


def test_latched_fire_that_comes_back_after_acknowledgement_is_raised_again() -> None:
    engine, _ = make()
    status(engine, "SD-1", "fire")
    engine.command("acknowledge", "fire:SD-1", by="alice")
    status(engine, "SD-1", "normal")
    assert seen(status(engine, "SD-1", "fire")) == [("raised", "fire:SD-1", "unacknowledged")]
    assert engine.alarms["fire:SD-1"].acknowledged_by is None


# --- on site ------------------------------------------------------------------------------


def test_on_site_marks_attendance_and_acknowledges() -> None:
    engine, clock = make()
    status(engine, "SD-1", "fire")
    clock.advance(40)
    result = engine.command("on_site", "fire:SD-1", by="guard 7")
    assert seen(result.events) == [
        ("on_site", "fire:SD-1", "unacknowledged"),
        ("acknowledged", "fire:SD-1", "acknowledged"),
    ]
    alarm = engine.alarms["fire:SD-1"]
    assert (alarm.on_site_by, alarm.on_site_at) == ("guard 7", clock.wall_ns())
    again = engine.command("on_site", "fire:SD-1", by="guard 8")
    assert again.reason == "alarm fire:SD-1 is already marked on site (by guard 7)"


def test_on_site_of_an_acknowledged_alarm_only_marks_attendance() -> None:
    engine, _ = make()
    status(engine, "SD-1", "fire")
    engine.command("acknowledge", "fire:SD-1", by="alice")
    result = engine.command("on_site", "fire:SD-1", by="guard 7")
    assert seen(result.events) == [("on_site", "fire:SD-1", "acknowledged")]


# --- shelving -----------------------------------------------------------------------------


def _fault(engine: RuleEngine, clock: FakeClock) -> list[AlarmEvent]:
    """Detector SD-1 reports a fault for its 10 s on-delay."""
    status(engine, "SD-1", "fault")
    clock.advance(10)
    return engine.tick()


def test_shelving_suppresses_new_activations_until_it_expires() -> None:
    engine, clock = make()
    _fault(engine, clock)
    result = engine.command("shelve", "detector_fault:SD-1", by="alice", duration=600)
    assert seen(result.events) == [("shelved", "detector_fault:SD-1", "unacknowledged")]
    alarm = engine.alarms["detector_fault:SD-1"]
    assert (alarm.shelved_by, alarm.shelved_until) == ("alice", clock.wall_ns() + 600 * 10**9)
    assert status(engine, "SD-1", "normal") == []
    assert _fault(engine, clock) == []
    assert engine.alarms["detector_fault:SD-1"].activations == 2
    clock.advance(589.5)
    assert engine.tick() == []
    clock.advance(0.5)
    events = engine.tick()
    assert seen(events) == [("unshelved", "detector_fault:SD-1", "unacknowledged")]
    assert events[0].cause == "shelving expired"
    assert not engine.alarms["detector_fault:SD-1"].shelved


def test_shelved_alarm_that_went_normal_disappears_when_unshelved() -> None:
    engine, clock = make()
    _fault(engine, clock)
    engine.command("acknowledge", "detector_fault:SD-1", by="alice")
    engine.command("shelve", "detector_fault:SD-1", by="alice", duration="15m")
    assert status(engine, "SD-1", "normal") == []
    assert engine.alarms["detector_fault:SD-1"].state is NORMAL  # still listed: it is shelved
    result = engine.command("unshelve", "detector_fault:SD-1", by="bob")
    assert seen(result.events) == [("unshelved", "detector_fault:SD-1", "normal")]
    assert result.events[0].by == "bob"
    assert engine.alarms == {}


def test_shelving_accepts_a_duration_string_up_to_the_maximum() -> None:
    engine, clock = make()
    _fault(engine, clock)
    result = engine.command("shelve", "detector_fault:SD-1", by="alice", duration="60m")
    assert result.ok
    assert result.events[0].cause == "shelved for 3600 s"


# --- out of service -----------------------------------------------------------------------


def test_device_out_of_service_suppresses_its_alarms_and_returns_quietly() -> None:
    engine, _ = make()
    result = engine.command("out_of_service", "SD-1", by="technician")
    assert result.ok
    assert {e.alarm_id: str(e.kind) for e in result.events} == {
        "fire:SD-1": "out_of_service",
        "pre_alarm:SD-1": "out_of_service",
        "detector_fault:SD-1": "out_of_service",
        "detector_isolated:SD-1": "out_of_service",
        "detector_maintenance:SD-1": "out_of_service",
        "comms_lost:SD-1": "out_of_service",
        "out_of_service:SD-1": "raised",  # the disablement, visible on the feed
    }
    assert status(engine, "SD-1", "pre_alarm") == []
    assert status(engine, "SD-1", "normal") == []
    result = engine.command("in_service", "SD-1", by="technician")
    assert sorted(str(e.kind) for e in result.events) == ["cleared"] + ["in_service"] * 6
    assert all(e.alarm.state is NORMAL for e in result.events)
    assert engine.alarms == {}


def test_alarm_returned_to_service_while_its_condition_persists_is_unacknowledged() -> None:
    engine, _ = make()
    assert engine.command("out_of_service", "pre_alarm:SD-1", by="tech").ok
    assert status(engine, "SD-1", "pre_alarm") == []
    assert engine.alarms["pre_alarm:SD-1"].active
    result = engine.command("in_service", "pre_alarm:SD-1", by="tech")
    assert seen(result.events) == [
        ("in_service", "pre_alarm:SD-1", "unacknowledged"),
        ("cleared", "out_of_service:pre_alarm:SD-1", "normal"),
    ]


# --- chattering ---------------------------------------------------------------------------


@pytest.mark.parametrize(("gap", "chattering"), [(10.0, True), (30.0, True), (31.0, False)])
def test_three_activations_within_a_minute_are_chattering(gap: float, chattering: bool) -> None:
    engine, clock = make()
    events: list[AlarmEvent] = []
    for _ in range(3):
        events += status(engine, "SD-1", "pre_alarm")
        events += status(engine, "SD-1", "normal")
        clock.advance(gap)
    flagged = [e for e in events if e.kind is EventKind.CHATTERING]
    assert len(flagged) == (1 if chattering else 0)
    if chattering:
        assert flagged[0].cause == "3 activations, 3 or more within 60 s"
        assert flagged[0].alarm.chattering


def test_chattering_is_reported_once_per_episode() -> None:
    engine, clock = make()
    events: list[AlarmEvent] = []
    for _ in range(6):
        events += status(engine, "SD-1", "pre_alarm")
        events += status(engine, "SD-1", "normal")
        clock.advance(5)
    assert [e.kind for e in events].count(EventKind.CHATTERING) == 1
    assert engine.alarms["pre_alarm:SD-1"].activations == 6


# --- refused commands ---------------------------------------------------------------------

REFUSALS: list[tuple[str, str, dict[str, Any], str]] = [
    ("acknowledge", "pre_alarm:SD-9", {"by": "alice"}, "unknown alarm pre_alarm:SD-9"),
    ("acknowledge", "nonsense", {"by": "alice"}, "unknown alarm nonsense"),
    (
        "acknowledge",
        "pre_alarm:SD-3",
        {"by": "bob"},
        "alarm pre_alarm:SD-3 is already acknowledged (by alice)",
    ),
    (
        "acknowledge",
        "pre_alarm:SD-2",
        {"by": "alice"},
        "alarm pre_alarm:SD-2 is normal; there is nothing to acknowledge",
    ),
    ("acknowledge", "fire:SD-1", {}, "a command must say who sent it (by)"),
    ("acknowledge", "fire:SD-1", {"by": "  "}, "a command must say who sent it (by)"),
    (
        "acknowledge",
        "fire:SD-1",
        {"by": "alice", "duration": 60},
        "acknowledge takes no argument duration",
    ),
    (
        "silence",
        "fire:SD-1",
        {"by": "alice"},
        "unknown action 'silence'; expected one of acknowledge, on_site, reset, shelve, "
        "unshelve, out_of_service, in_service",
    ),
    (
        "reset",
        "pre_alarm:SD-3",
        {"by": "alice"},
        "alarm pre_alarm:SD-3 is not latched; it clears by itself when its condition does",
    ),
    (
        "reset",
        "fire:SD-1",
        {"by": "alice"},
        "alarm fire:SD-1 cannot be reset while its condition is still present",
    ),
    ("reset", "fire:SD-2", {"by": "alice"}, "alarm fire:SD-2 is normal; there is nothing to reset"),
    ("shelve", "camera_tamper:CAM-1", {"by": "alice"}, "shelving needs a duration, at most 3600 s"),
    (
        "shelve",
        "camera_tamper:CAM-1",
        {"by": "alice", "duration": 3601},
        "shelving for 3601 s exceeds the maximum of 3600 s",
    ),
    (
        "shelve",
        "camera_tamper:CAM-1",
        {"by": "alice", "duration": "2h"},
        "shelving for 7200 s exceeds the maximum of 3600 s",
    ),
    (
        "shelve",
        "camera_tamper:CAM-1",
        {"by": "alice", "duration": 0},
        "shelving duration must be more than 0 s, got 0",
    ),
    (
        "shelve",
        "camera_tamper:CAM-1",
        {"by": "alice", "duration": "soon"},
        "shelving duration 'soon' is not a duration such as 30m or 900",
    ),
    (
        "shelve",
        "camera_tamper:CAM-1",
        {"by": "alice", "duration": 60, "reason": "x"},
        "shelve takes no argument reason",
    ),
    (
        "shelve",
        "fire:SD-1",
        {"by": "alice", "duration": 60},
        "alarm fire:SD-1 is a fire alarm and cannot be shelved; take the device out of service "
        "instead",
    ),
    (
        "unshelve",
        "camera_tamper:CAM-1",
        {"by": "alice"},
        "alarm camera_tamper:CAM-1 is not shelved",
    ),
    ("unshelve", "pre_alarm:SD-2", {"by": "alice"}, "alarm pre_alarm:SD-2 is not shelved"),
    (
        "on_site",
        "pre_alarm:SD-2",
        {"by": "alice"},
        "alarm pre_alarm:SD-2 is normal; there is nothing to mark on site",
    ),
    ("in_service", "fire:SD-1", {"by": "alice"}, "alarm fire:SD-1 is not out of service"),
    ("in_service", "SD-2", {"by": "alice"}, "Smoke detector SD-2 is not out of service"),
    ("in_service", "SD-9", {"by": "alice"}, "unknown alarm SD-9"),
]


@pytest.mark.parametrize(("action", "target", "args", "reason"), REFUSALS)
def test_refused_commands_say_why_and_change_nothing(
    action: str, target: str, args: dict[str, Any], reason: str
) -> None:
    engine, clock = make()
    engine.on_readings(
        [
            Reading("SD-1", "status", "fire"),
            Reading("CAM-1", "tamper", True),
            Reading("SD-3", "status", "pre_alarm"),
        ]
    )
    clock.advance(10)
    engine.tick()
    engine.command("acknowledge", "pre_alarm:SD-3", by="alice")
    before = {k: a.to_dict() for k, a in engine.alarms.items()}
    result = engine.command(action, target, **args)
    assert (result.ok, result.reason, result.events) == (False, reason, [])
    assert {k: a.to_dict() for k, a in engine.alarms.items()} == before


def test_already_out_of_service_is_refused() -> None:
    engine, _ = make()
    engine.command("out_of_service", "SD-1", by="tech")
    assert engine.command("out_of_service", "SD-1", by="tech").reason == (
        "Smoke detector SD-1 is already out of service"
    )
    assert engine.command("out_of_service", "fire:SD-1", by="tech").reason == (
        "alarm fire:SD-1 is already out of service"
    )


def test_already_shelved_is_refused() -> None:
    engine, clock = make()
    engine.on_readings([Reading("CAM-1", "tamper", True)])
    clock.advance(10)
    engine.tick()
    engine.command("shelve", "camera_tamper:CAM-1", by="alice", duration=60)
    result = engine.command("shelve", "camera_tamper:CAM-1", by="bob", duration=60)
    assert result.reason == "alarm camera_tamper:CAM-1 is already shelved (by alice)"


def test_command_result_has_a_reply_form() -> None:
    engine, _ = make()
    status(engine, "SD-1", "fire")
    assert engine.command("acknowledge", "fire:SD-1", by="a").to_dict() == {
        "ok": True,
        "reason": None,
        "events": [{"alarm_id": "fire:SD-1", "kind": "acknowledged"}],
    }
    assert engine.command("acknowledge", "x", by="a").to_dict() == {
        "ok": False,
        "reason": "unknown alarm x",
        "events": [],
    }


# --- publication order and serialisation --------------------------------------------------


def test_fire_events_come_before_others_in_the_same_batch() -> None:
    engine, clock = make()
    engine.on_readings([Reading("CAM-1", "tamper", True), Reading("HP-1", "pressure", 0.05)])
    clock.advance(30)
    events = engine.on_readings(
        [
            Reading("CAM-1", "tamper", True),
            Reading("HP-1", "pressure", 0.05),
            Reading("SD-2", "status", "pre_alarm"),
            Reading("SD-1", "status", "fire"),
        ]
    )
    assert [e.alarm_id for e in events] == [
        "fire:SD-1",
        "pre_alarm:SD-2",
        "pressure_low:HP-1",
        "camera_tamper:CAM-1",
    ]


def test_alarms_and_events_are_json_and_round_trip() -> None:
    engine, _ = make()
    (event,) = status(engine, "SD-1", "fire")
    text = json.dumps(event.to_dict())
    data = json.loads(text)
    assert data["kind"] == "raised"
    assert data["alarm"]["class"] == "fire"
    assert data["alarm"]["state"] == "unacknowledged"
    assert {
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
        "acknowledged_by",
        "acknowledged_at",
        "escalation_level",
        "shelved_until",
        "activations",
    } <= set(data["alarm"])
    assert AlarmEvent.from_dict(data) == event
    assert Alarm.from_dict(data["alarm"]) == event.alarm


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"state": "burning"}, "alarm record fire:SD-1: 'burning' is not a valid AlarmState"),
        ({"class": None}, "alarm record fire:SD-1: None is not a valid AlarmClass"),
    ],
)
def test_alarm_from_dict_names_what_is_wrong(change: dict[str, Any], message: str) -> None:
    engine, _ = make()
    status(engine, "SD-1", "fire")
    data = {**engine.alarms["fire:SD-1"].to_dict(), **change}
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        Alarm.from_dict(data)


def test_alarm_from_dict_names_missing_keys() -> None:
    with pytest.raises(ValueError, match=r"^alarm record is missing rule, class"):
        Alarm.from_dict({"id": "x", "priority": "low"})


def test_an_alarm_active_for_more_than_a_day_is_stale_once() -> None:
    engine, clock = make()
    _fault(engine, clock)

    def stale_events(seconds: float) -> list[tuple[str, str]]:
        clock.advance(seconds)
        return [(str(e.kind), e.cause) for e in engine.tick() if e.alarm_id.startswith("det")]

    assert stale_events(86_399.5) == []
    assert stale_events(0.5) == [("stale", "active for more than 86400 s")]
    assert engine.alarms["detector_fault:SD-1"].stale
    assert stale_events(3600) == []


def test_pre_alarm_turning_into_fire_publishes_the_fire_first() -> None:
    engine, _ = make()
    status(engine, "SD-1", "pre_alarm")
    assert seen(status(engine, "SD-1", "fire")) == [
        ("raised", "fire:SD-1", "unacknowledged"),
        ("returned_to_normal", "pre_alarm:SD-1", "returned_unacknowledged"),
    ]


def test_priorities_sort_critical_first() -> None:
    assert sorted(["low", "critical", "medium", "high"], key=Priority) == [
        "critical",
        "high",
        "medium",
        "low",
    ]
    assert sorted(Priority, reverse=True)[0] is Priority.LOW


def test_the_fake_clock_does_not_go_backwards() -> None:
    with pytest.raises(ValueError, match=r"^time cannot go backwards \(advance by -1 s\)$"):
        FakeClock().advance(-1)
