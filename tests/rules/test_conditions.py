"""Rule types: state match, thresholds with delays and deadband, rate, validity, comms, zones."""

from __future__ import annotations

import pytest

from core.reading import Quality, Reading, Value
from rules import (
    AlarmClass,
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
from rules.specs import RuleOverride

DETECTOR, HYDRANT, CAMERA = (
    DeviceKind.SMOKE_DETECTOR,
    DeviceKind.HYDRANT_PRESSURE,
    DeviceKind.CAMERA,
)


def site(supervision: float = 1000.0) -> list[DeviceInfo]:
    """Two zones: zone-a with two detectors, a hydrant and a camera; zone-b with one of each."""
    return [
        DeviceInfo("SD-1", DETECTOR, "zone-a", "main", supervision),
        DeviceInfo("SD-2", DETECTOR, "zone-a", "main", supervision),
        DeviceInfo("SD-3", DETECTOR, "zone-b", "main", supervision),
        DeviceInfo("HP-1", HYDRANT, "zone-a", "main", supervision),
        DeviceInfo("CAM-1", CAMERA, "zone-a", "main", supervision, {"fps": 25.0}),
        DeviceInfo("CAM-2", CAMERA, "zone-a", "main", supervision, {"fps": 30.0}),
        DeviceInfo("CAM-3", CAMERA, "zone-b", "main", supervision),
    ]


QUIET = RuleSet(escalation=EscalationPolicy(priorities=()))
"""The default rules without escalation, to see each rule's own events."""


def make(rules: RuleSet = QUIET, supervision: float = 1000.0) -> tuple[RuleEngine, FakeClock]:
    clock = FakeClock()
    return RuleEngine(site(supervision), rules, clock), clock


def reading(
    device: str,
    point: str,
    value: Value | None,
    quality: Quality = Quality.GOOD,
    detail: str | None = None,
) -> Reading:
    return Reading(device, point, value, quality, None, 1_767_225_600_000_000_000, detail)


def seen(events: list[AlarmEvent], alarm_id: str | None = None) -> list[tuple[str, str]]:
    """(kind, alarm id) of each event, optionally only for one alarm."""
    return [(str(e.kind), e.alarm_id) for e in events if alarm_id in (None, e.alarm_id)]


def run_for(
    engine: RuleEngine,
    clock: FakeClock,
    seconds: float,
    readings: list[Reading] | None = None,
    step: float = 0.5,
) -> list[AlarmEvent]:
    """Let `seconds` pass in steps: feed `readings`, advance one step, tick."""
    events: list[AlarmEvent] = []
    for _ in range(round(seconds / step)):
        events += engine.on_readings(readings or [])
        clock.advance(step)
        events += engine.tick()
    return events


# --- state match --------------------------------------------------------------------------

STATE_RULES = [
    # device, point, value, alarm id, class, priority, on-delay
    ("SD-1", "status", "fire", "fire:SD-1", AlarmClass.FIRE, Priority.CRITICAL, 0),
    ("SD-1", "status", "pre_alarm", "pre_alarm:SD-1", AlarmClass.FIRE, Priority.HIGH, 0),
    ("SD-1", "status", "fault", "detector_fault:SD-1", AlarmClass.TROUBLE, Priority.MEDIUM, 10),
    (
        "SD-1",
        "status",
        "isolated",
        "detector_isolated:SD-1",
        AlarmClass.TROUBLE,
        Priority.MEDIUM,
        10,
    ),
    (
        "SD-1",
        "status",
        "maintenance",
        "detector_maintenance:SD-1",
        AlarmClass.MAINTENANCE,
        Priority.LOW,
        10,
    ),
    (
        "CAM-1",
        "recording",
        False,
        "camera_not_recording:CAM-1",
        AlarmClass.TROUBLE,
        Priority.HIGH,
        10,
    ),
    ("CAM-1", "online", False, "camera_offline:CAM-1", AlarmClass.TROUBLE, Priority.HIGH, 10),
    ("CAM-1", "video_loss", True, "camera_video_loss:CAM-1", AlarmClass.TROUBLE, Priority.HIGH, 10),
    ("CAM-1", "tamper", True, "camera_tamper:CAM-1", AlarmClass.SECURITY, Priority.HIGH, 10),
]


@pytest.mark.parametrize(
    ("device", "point", "value", "alarm_id", "alarm_class", "priority", "delay"), STATE_RULES
)
def test_state_match_raises_exactly_at_its_on_delay(
    *,
    device: str,
    point: str,
    value: Value,
    alarm_id: str,
    alarm_class: AlarmClass,
    priority: Priority,
    delay: float,
) -> None:
    engine, clock = make()
    events = engine.on_readings([reading(device, point, value)])
    if delay:
        assert seen(events, alarm_id) == []
        events = run_for(engine, clock, delay - 0.5)
        assert seen(events, alarm_id) == []
        events = run_for(engine, clock, 0.5)
    assert seen(events, alarm_id) == [("raised", alarm_id)]
    alarm = engine.alarms[alarm_id]
    assert (alarm.alarm_class, alarm.priority, alarm.state) == (
        alarm_class,
        priority,
        AlarmState.UNACKNOWLEDGED,
    )
    assert alarm.value == value
    assert alarm.device == device
    assert alarm.zone == "zone-a"
    assert alarm.building == "main"


def test_fire_message_is_readable_by_a_facilities_engineer() -> None:
    engine, _ = make()
    engine.on_readings([reading("SD-1", "status", "fire")])
    assert engine.alarms["fire:SD-1"].message == "Smoke detector SD-1 in fire (zone zone-a)"


@pytest.mark.parametrize("status", ["normal", "pre_alarm"])
def test_other_states_do_not_match(status: str) -> None:
    engine, clock = make()
    events = engine.on_readings([reading("SD-1", "status", status)])
    events += run_for(engine, clock, 20)
    assert seen(events, "fire:SD-1") == []
    assert seen(events, "detector_fault:SD-1") == []


def test_condition_that_clears_before_the_on_delay_raises_nothing() -> None:
    engine, clock = make()
    engine.on_readings([reading("SD-1", "status", "fault")])
    events = run_for(engine, clock, 9.5)
    events += engine.on_readings([reading("SD-1", "status", "normal")])
    events += run_for(engine, clock, 60)
    assert events == []
    assert engine.alarms == {}


def test_on_delay_starts_again_after_the_condition_drops_out() -> None:
    engine, clock = make()
    engine.on_readings([reading("SD-1", "status", "fault")])
    run_for(engine, clock, 8)
    engine.on_readings([reading("SD-1", "status", "normal")])
    run_for(engine, clock, 1)
    engine.on_readings([reading("SD-1", "status", "fault")])
    assert seen(run_for(engine, clock, 9.5)) == []
    assert seen(run_for(engine, clock, 0.5)) == [("raised", "detector_fault:SD-1")]


def test_a_bad_reading_says_nothing_about_the_state() -> None:
    engine, clock = make()
    engine.on_readings([reading("SD-1", "status", "fault")])
    run_for(engine, clock, 5)
    engine.on_readings([reading("SD-1", "status", None, Quality.TIMEOUT)])
    assert seen(run_for(engine, clock, 5)) == [("raised", "detector_fault:SD-1")]
    assert seen(engine.on_readings([reading("SD-1", "status", None, Quality.EXCEPTION)])) == []
    assert "detector_fault:SD-1" in engine.alarms


def test_repeated_true_readings_make_one_alarm() -> None:
    engine, clock = make()
    events = engine.on_readings([reading("SD-1", "status", "pre_alarm")] * 5)
    events += run_for(engine, clock, 30, [reading("SD-1", "status", "pre_alarm")])
    assert seen(events) == [("raised", "pre_alarm:SD-1")]
    assert engine.alarms["pre_alarm:SD-1"].activations == 1


# --- threshold: on-delay, off-delay, deadband ---------------------------------------------


def test_pressure_low_raises_exactly_after_30_s() -> None:
    engine, clock = make()
    low = [reading("HP-1", "pressure", 0.08)]
    engine.on_readings(low)
    assert seen(run_for(engine, clock, 29.5, low)) == []
    assert seen(run_for(engine, clock, 0.5, low)) == [("raised", "pressure_low:HP-1")]
    alarm = engine.alarms["pressure_low:HP-1"]
    assert (alarm.alarm_class, alarm.priority) == (AlarmClass.SUPERVISORY, Priority.HIGH)
    assert alarm.message == (
        "Hydrant pressure transmitter HP-1 pressure below minimum: 0.08 MPa (limit 0.1 MPa) "
        "(zone zone-a)"
    )


def test_on_delay_expires_on_the_tick_without_further_readings() -> None:
    engine, clock = make()
    engine.on_readings([reading("HP-1", "pressure", 0.08)])
    assert seen(run_for(engine, clock, 29.5)) == []
    assert seen(run_for(engine, clock, 0.5)) == [("raised", "pressure_low:HP-1")]


@pytest.mark.parametrize(("value", "raised"), [(0.10, False), (0.0999, True), (0.11, False)])
def test_pressure_low_limit_is_strict(value: float, raised: bool) -> None:
    engine, clock = make()
    events = run_for(engine, clock, 31, [reading("HP-1", "pressure", value)])
    assert (seen(events) == [("raised", "pressure_low:HP-1")]) is raised


def _low_pressure_alarm() -> tuple[RuleEngine, FakeClock]:
    engine, clock = make()
    run_for(engine, clock, 30, [reading("HP-1", "pressure", 0.05)])
    assert "pressure_low:HP-1" in engine.alarms
    return engine, clock


@pytest.mark.parametrize(
    ("value", "clears"),
    [
        (0.10, False),  # back at the minimum: inside the deadband
        (0.11, False),
        (0.1199, False),  # just inside minimum + deadband
        (0.12, True),  # minimum + deadband exactly: out of it
        (0.30, True),
    ],
)
def test_deadband_keeps_the_alarm_until_it_is_clear_of_it(value: float, clears: bool) -> None:
    engine, clock = _low_pressure_alarm()
    events = run_for(engine, clock, 60, [reading("HP-1", "pressure", value)])
    expected = [("returned_to_normal", "pressure_low:HP-1")] if clears else []
    assert seen(events) == expected


def test_value_inside_the_deadband_does_not_start_the_on_delay() -> None:
    engine, clock = make()
    events = run_for(engine, clock, 120, [reading("HP-1", "pressure", 0.11)])
    assert events == []


def test_pressure_high_raises_after_30_s_at_medium_priority() -> None:
    engine, clock = make()
    high = [reading("HP-1", "pressure", 1.05)]
    engine.on_readings(high)
    assert seen(run_for(engine, clock, 29.5, high)) == []
    assert seen(run_for(engine, clock, 0.5, high)) == [("raised", "pressure_high:HP-1")]
    assert engine.alarms["pressure_high:HP-1"].priority is Priority.MEDIUM


def test_off_delay_keeps_the_alarm_through_brief_recoveries() -> None:
    rules = RuleSet(
        escalation=QUIET.escalation,
        devices={"HP-1": {"pressure_low": RuleOverride(off_delay=20.0)}},
    )
    engine, clock = make(rules)
    run_for(engine, clock, 30, [reading("HP-1", "pressure", 0.05)])
    good = [reading("HP-1", "pressure", 0.3)]
    assert run_for(engine, clock, 15, good) == []
    run_for(engine, clock, 5, [reading("HP-1", "pressure", 0.05)])  # dips again: timer restarts
    assert run_for(engine, clock, 19.5, good) == []
    assert seen(run_for(engine, clock, 0.5, good)) == [("returned_to_normal", "pressure_low:HP-1")]


def test_threshold_relative_to_nominal_uses_each_cameras_frame_rate() -> None:
    engine, clock = make()
    # CAM-1 nominal 25 fps (limit 12.5), CAM-2 nominal 30 fps (limit 15)
    slow = [reading("CAM-1", "fps", 13.0), reading("CAM-2", "fps", 13.0)]
    engine.on_readings(slow)
    assert seen(run_for(engine, clock, 59.5, slow)) == []
    assert seen(run_for(engine, clock, 0.5, slow)) == [("raised", "fps_low:CAM-2")]


def test_retention_below_90_days_is_maintenance_after_an_hour() -> None:
    engine, clock = make(supervision=10_000.0)
    short = [reading("CAM-1", "retention_days", 60)]
    engine.on_readings(short)
    assert seen(run_for(engine, clock, 3599, short, step=1.0)) == []
    assert seen(run_for(engine, clock, 1, short, step=1.0)) == [("raised", "retention_low:CAM-1")]
    alarm = engine.alarms["retention_low:CAM-1"]
    assert (alarm.alarm_class, alarm.priority) == (AlarmClass.MAINTENANCE, Priority.LOW)


# --- rate of change -----------------------------------------------------------------------


def _pressure_ramp(
    engine: RuleEngine, clock: FakeClock, start: float, per_second: float, seconds: int
) -> list[AlarmEvent]:
    events: list[AlarmEvent] = []
    for i in range(seconds):
        events += engine.on_readings([reading("HP-1", "pressure", start + per_second * i)])
        clock.advance(1.0)
        events += engine.tick()
    return events


@pytest.mark.parametrize(
    ("per_minute", "raised"), [(0.06, True), (0.051, True), (0.04, False), (-0.3, False)]
)
def test_rate_of_fall_over_the_window(per_minute: float, raised: bool) -> None:
    engine, clock = make()
    events = _pressure_ramp(engine, clock, 0.8, -per_minute / 60, 90)
    assert (seen(events) == [("raised", "pressure_falling:HP-1")]) is raised


def test_rate_needs_half_a_window_of_readings_before_it_judges() -> None:
    rules = RuleSet(
        escalation=QUIET.escalation,
        kinds={HYDRANT: {"pressure_falling": RuleOverride(on_delay=0.0)}},  # the window alone
    )
    engine, clock = make(rules)
    events = _pressure_ramp(engine, clock, 0.8, -0.01, 30)  # 0.6 MPa/min, but only 29 s seen
    assert events == []
    events = _pressure_ramp(engine, clock, 0.5, -0.01, 2)
    assert seen(events) == [("raised", "pressure_falling:HP-1")]


def test_one_noisy_poll_is_not_a_fall() -> None:
    engine, clock = make()
    events = _pressure_ramp(engine, clock, 0.5, 0.0, 60)
    events += _pressure_ramp(engine, clock, 0.47, 0.0, 1)  # one sample 0.03 lower
    events += _pressure_ramp(engine, clock, 0.5, 0.0, 60)
    assert events == []


def test_rate_alarm_returns_when_the_pressure_settles() -> None:
    engine, clock = make()
    events = _pressure_ramp(engine, clock, 0.8, -0.002, 60)  # 0.12 MPa/min
    assert seen(events) == [("raised", "pressure_falling:HP-1")]
    assert "0.12 MPa/min over 60 s" in engine.alarms["pressure_falling:HP-1"].message
    events = _pressure_ramp(engine, clock, 0.68, 0.0, 90)
    assert seen(events) == [("returned_to_normal", "pressure_falling:HP-1")]


def test_a_fall_after_hours_of_steady_pressure_is_judged_as_after_one_window_of_it() -> None:
    def fall_after(steady_seconds: int) -> tuple[int, str]:
        engine, clock = make(supervision=100_000.0)
        for second in range(steady_seconds):  # steady, give or take a few kPa
            assert _pressure_ramp(engine, clock, 0.8 + 0.003 * (second % 7), 0.0, 1) == []
        for second in range(60):  # 0.12 MPa/min
            if _pressure_ramp(engine, clock, 0.8 - 0.002 * second, 0.0, 1):
                return second, engine.alarms["pressure_falling:HP-1"].message
        raise AssertionError("the fall was not raised")

    hours = fall_after(3 * 3600)  # the window's arrays cut many times over
    assert hours == fall_after(62)  # the same last minute before the fall
    assert "MPa/min over 60 s" in hours[1]


# --- signal validity (NAMUR NE 43) --------------------------------------------------------


def _out_of_range() -> list[Reading]:
    detail = "loop current 2.10 mA (NAMUR NE 43 sensor fault)"
    return [
        reading("HP-1", "loop_current", 2.1),
        reading("HP-1", "pressure", None, Quality.OUT_OF_RANGE, detail),
    ]


def test_namur_out_of_range_is_a_sensor_fault_after_10_s() -> None:
    engine, clock = make(supervision=3.0)
    engine.on_readings(_out_of_range())
    events = run_for(engine, clock, 9.5, _out_of_range())
    assert seen(events, "signal_invalid:HP-1") == []
    events = run_for(engine, clock, 0.5, _out_of_range())
    assert seen(events, "signal_invalid:HP-1") == [("raised", "signal_invalid:HP-1")]
    alarm = engine.alarms["signal_invalid:HP-1"]
    assert (alarm.alarm_class, alarm.priority) == (AlarmClass.TROUBLE, Priority.MEDIUM)
    assert alarm.value == "loop current 2.10 mA (NAMUR NE 43 sensor fault)"
    assert "comms_lost:HP-1" not in engine.alarms  # the loop current still comes in


def test_namur_fault_shorter_than_the_delay_raises_nothing() -> None:
    engine, clock = make()
    events = run_for(engine, clock, 5, _out_of_range())
    events += run_for(engine, clock, 30, [reading("HP-1", "pressure", 0.3)])
    assert events == []


def test_namur_fault_clears_with_a_good_pressure_not_with_a_timeout() -> None:
    engine, clock = make()
    run_for(engine, clock, 10, _out_of_range())
    timeout = [reading("HP-1", "pressure", None, Quality.TIMEOUT)]
    assert seen(run_for(engine, clock, 5, timeout)) == []
    events = engine.on_readings([reading("HP-1", "pressure", 0.3)])
    assert seen(events) == [("returned_to_normal", "signal_invalid:HP-1")]


# --- communication loss and blind spots ---------------------------------------------------


def test_comms_lost_exactly_when_the_supervision_window_passes() -> None:
    engine, clock = make(supervision=3.0)
    good = [reading(d.id, "temperature", 20.0) for d in site()]
    engine.on_readings(good)
    clock.advance(2.9)
    assert engine.tick() == []
    engine.on_readings([r for r in good if r.device != "SD-1"])
    engine.on_readings([reading("SD-1", "status", None, Quality.TIMEOUT)])  # bad: not heard
    clock.advance(0.1)
    events = engine.tick()
    assert seen(events) == [("raised", "comms_lost:SD-1")]
    alarm = engine.alarms["comms_lost:SD-1"]
    assert (alarm.alarm_class, alarm.priority) == (AlarmClass.TROUBLE, Priority.HIGH)
    assert alarm.message == "Smoke detector SD-1 communication lost (zone zone-a)"
    events = engine.on_readings([reading("SD-1", "status", "normal")])
    assert seen(events) == [("returned_to_normal", "comms_lost:SD-1")]


def test_time_the_gateway_could_not_poll_does_not_count_against_the_window() -> None:
    engine, clock = make(supervision=3.0)
    good = [reading(d.id, "temperature", 20.0) for d in site()]
    engine.on_readings(good)
    clock.advance(10.0)  # the gateway's loop starved for 8 of these 10 s: no poll was made
    assert seen(engine.tick(unpolled=8.0)) == []  # 2 s of polling time: inside the window
    engine.on_readings(good)  # the late polls answer
    clock.advance(2.9)
    assert seen(engine.tick(unpolled=8.0)) == []
    clock.advance(0.1)  # 3 s of polling time without a good reading: lost, as ever
    lost = {event.alarm.id for event in engine.tick(unpolled=8.0)}
    assert "comms_lost:SD-1" in lost


def test_a_dead_device_is_still_lost_while_the_gateway_is_behind() -> None:
    engine, clock = make(supervision=3.0)
    engine.on_readings([reading(d.id, "temperature", 20.0) for d in site()])
    for second in range(1, 7):  # half of each second lost to a starved loop
        clock.advance(1.0)
        events = engine.tick(unpolled=second * 0.5)
    assert ("raised", "comms_lost:SD-1") in seen(events)
    assert engine.alarms["comms_lost:SD-1"].value == 3.0


def test_a_gateway_that_stays_behind_delays_no_fault_past_100_s() -> None:
    """The lag credit never carries a silent device past GB 50166's 100 s."""
    engine, clock = make(supervision=3.0)
    engine.on_readings([reading(d.id, "temperature", 20.0) for d in site()])
    events: list[AlarmEvent] = []
    for second in range(1, 100):  # 99% of each second lost to a starved loop
        clock.advance(1.0)
        events = engine.tick(unpolled=second * 0.99)
        assert ("raised", "comms_lost:SD-1") not in seen(events)
    clock.advance(1.0)
    assert ("raised", "comms_lost:SD-1") in seen(engine.tick(unpolled=99.0))


def test_a_device_that_never_reports_is_lost_one_window_after_start() -> None:
    engine, clock = make(supervision=3.0)
    clock.advance(2.5)
    assert engine.tick() == []
    clock.advance(0.5)
    assert len([e for e in engine.tick() if e.kind is EventKind.RAISED]) == len(site()) + 2


def test_camera_comms_loss_is_also_a_blind_spot_in_its_zone() -> None:
    engine, clock = make(supervision=15.0)
    others = [reading(d.id, "online", True) for d in site() if d.id != "CAM-3"]
    events = run_for(engine, clock, 15, others)
    assert seen(events) == [("raised", "blind_spot:zone-b"), ("raised", "comms_lost:CAM-3")]
    blind = engine.alarms["blind_spot:zone-b"]
    assert (blind.alarm_class, blind.priority, blind.device) == (
        AlarmClass.SECURITY,
        Priority.HIGH,
        None,
    )
    assert blind.message == "Blind spot in zone zone-b: camera CAM-3 communication lost"
    events = engine.on_readings([reading("CAM-3", "online", True)])
    assert sorted(seen(events)) == [
        ("returned_to_normal", "blind_spot:zone-b"),
        ("returned_to_normal", "comms_lost:CAM-3"),
    ]


@pytest.mark.parametrize(
    ("point", "value"), [("recording", False), ("online", False), ("video_loss", True)]
)
def test_camera_not_watching_is_a_blind_spot(point: str, value: bool) -> None:
    engine, clock = make()
    events = run_for(engine, clock, 10, [reading("CAM-3", point, value)])
    assert ("raised", "blind_spot:zone-b") in seen(events)
    assert "blind_spot:zone-a" not in engine.alarms
    events = engine.on_readings([reading("CAM-3", point, not value)])
    assert ("returned_to_normal", "blind_spot:zone-b") in seen(events)


def test_tamper_alone_is_not_a_blind_spot() -> None:
    engine, clock = make()
    events = run_for(engine, clock, 10, [reading("CAM-1", "tamper", True)])
    assert seen(events) == [("raised", "camera_tamper:CAM-1")]


def test_a_zone_is_blind_only_when_none_of_its_cameras_watches() -> None:
    """One dark camera of two is that camera's alarm; the zone still sees (issue: one
    incident, one alarm). When the second goes dark too, coverage is lost."""
    engine, clock = make()
    events = run_for(engine, clock, 10, [reading("CAM-1", "recording", False)])
    assert seen(events) == [("raised", "camera_not_recording:CAM-1")]
    events = run_for(engine, clock, 10, [reading("CAM-2", "online", False)])
    assert ("raised", "blind_spot:zone-a") in seen(events)
    assert engine.alarms["blind_spot:zone-a"].value == 2
    events = engine.on_readings([reading("CAM-1", "recording", True)])
    assert seen(events, "blind_spot:zone-a") == [("returned_to_normal", "blind_spot:zone-a")]


def test_a_zone_whose_cameras_each_watch_their_own_place_is_blind_with_one() -> None:
    rules = RuleSet.model_validate(
        {
            "escalation": {"priorities": []},
            "zones": {"zone-a": {"blind_spot": {"blind_when": "any_camera_blind"}}},
        }
    )
    engine, clock = make(rules)
    run_for(engine, clock, 10, [reading("CAM-1", "recording", False)])
    events = run_for(engine, clock, 10, [reading("CAM-2", "online", False)])
    assert seen(events, "blind_spot:zone-a") == []  # raised with the first, still blind
    assert engine.alarms["blind_spot:zone-a"].active
    events = engine.on_readings([reading("CAM-1", "recording", True)])
    assert seen(events, "blind_spot:zone-a") == []
    events = engine.on_readings([reading("CAM-2", "online", True)])
    assert seen(events, "blind_spot:zone-a") == [("returned_to_normal", "blind_spot:zone-a")]


def test_a_wall_clock_step_neither_fires_nor_swallows_an_alarm() -> None:
    engine, clock = make(supervision=3.0)
    engine.on_readings([reading("HP-1", "pressure", 0.05)])
    clock.step_wall(3600)
    assert engine.tick() == []
    clock.step_wall(-7200)
    events = run_for(engine, clock, 30, [reading(d.id, "pressure", 0.05) for d in site()])
    assert seen(events) == [("raised", "pressure_low:HP-1")]


# --- coincidence: confirmed fire ----------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "gap", "confirmed"),
    [
        ("SD-2", 0, True),
        ("SD-2", 30, True),
        ("SD-2", 60, True),
        ("SD-2", 61, False),
        ("SD-3", 0, False),  # another zone
        ("SD-1", 10, False),  # the same detector again is not a second detector
    ],
)
def test_two_detectors_in_one_zone_within_60_s_confirm_a_fire(
    second: str, gap: float, confirmed: bool
) -> None:
    engine, clock = make()
    engine.on_readings([reading("SD-1", "status", "fire")])
    if second == "SD-1":
        engine.on_readings([reading("SD-1", "status", "normal")])
    clock.advance(gap)
    events = engine.on_readings([reading(second, "status", "fire")])
    assert (
        seen(events, "confirmed_fire:zone-a") == [("raised", "confirmed_fire:zone-a")]
    ) is confirmed


def test_confirmed_fire_is_critical_latched_and_names_the_detectors() -> None:
    engine, clock = make()
    engine.on_readings([reading("SD-1", "status", "fire")])
    clock.advance(20)
    events = engine.on_readings([reading("SD-2", "status", "fire")])
    assert seen(events) == [("raised", "fire:SD-2"), ("raised", "confirmed_fire:zone-a")]
    alarm = engine.alarms["confirmed_fire:zone-a"]
    assert (alarm.alarm_class, alarm.priority, alarm.latched, alarm.device) == (
        AlarmClass.FIRE,
        Priority.CRITICAL,
        True,
        None,
    )
    assert alarm.message == "Confirmed fire in zone zone-a: SD-1, SD-2 in fire within 60 s"
    assert alarm.value == 2


def test_a_detector_out_of_service_does_not_confirm_a_fire() -> None:
    engine, _ = make()
    assert engine.command("out_of_service", "SD-2", by="tech").ok
    engine.on_readings([reading("SD-1", "status", "fire")])
    events = engine.on_readings([reading("SD-2", "status", "fire")])
    assert seen(events, "confirmed_fire:zone-a") == []


def test_readings_of_unknown_devices_are_counted_and_ignored() -> None:
    engine, _ = make()
    assert engine.on_readings([reading("SD-99", "status", "fire")]) == []
    assert engine.unknown_readings == 1
