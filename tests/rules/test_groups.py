"""One incident, one alarm: the counts of issue 13, as the number of alarms that need a person
(before: every one of them did)."""

from __future__ import annotations

from core.reading import Reading
from rules import AlarmEvent, DeviceInfo, DeviceKind, RuleEngine, RuleSet
from rules.clock import FakeClock


def needing_a_person(engine: RuleEngine) -> list[str]:
    return sorted(alarm.id for alarm in engine.alarms.values() if alarm.needs_person)


def run(engine: RuleEngine, clock: FakeClock, seconds: float) -> list[AlarmEvent]:
    events = []
    for _ in range(int(seconds * 2)):
        clock.advance(0.5)
        events += engine.tick()
    return events


def test_a_panel_link_down_is_one_alarm_not_seventy_one() -> None:
    detectors = [
        DeviceInfo(f"SD-{n}", DeviceKind.SMOKE_DETECTOR, f"z{n % 7}", "opd", 3.0, link="opd-panel")
        for n in range(71)
    ]
    clock = FakeClock()
    engine = RuleEngine(
        [DeviceInfo("opd-panel", DeviceKind.LINK, "", "opd"), *detectors], RuleSet(), clock
    )
    engine.on_readings([Reading(d.id, "status", "normal") for d in detectors])
    engine.on_readings([Reading("opd-panel", "up", False)])
    run(engine, clock, 10)
    lost = [a for a in engine.alarms.values() if a.rule == "comms_lost"]
    assert len(lost) == 71
    assert {a.held_by for a in lost} == {"link_lost:opd-panel"}
    assert needing_a_person(engine) == ["link_lost:opd-panel"]


def test_the_camera_broker_restarting_is_one_alarm_not_sixty_four() -> None:
    cameras = [
        DeviceInfo(f"CAM-{n}", DeviceKind.CAMERA, f"z{n % 23}", "opd", 15.0, link="mqtt-broker")
        for n in range(40)
    ]
    clock = FakeClock()
    engine = RuleEngine(
        [DeviceInfo("mqtt-broker", DeviceKind.LINK, "", ""), *cameras], RuleSet(), clock
    )
    engine.on_readings([Reading(c.id, "online", True) for c in cameras])
    engine.on_readings([Reading("mqtt-broker", "up", False)])
    run(engine, clock, 16)  # the measured 16 s restart
    assert needing_a_person(engine) == ["link_lost:mqtt-broker"]
    engine.on_readings([Reading("mqtt-broker", "up", True)])
    engine.on_readings([Reading(c.id, "online", True) for c in cameras])
    run(engine, clock, 12)  # past the settle time: the losses went with their cause
    assert needing_a_person(engine) == ["link_lost:mqtt-broker"]  # returned, to acknowledge
    assert [a.id for a in engine.alarms.values() if a.rule != "link_lost"] == []


def test_a_dark_camera_is_two_alarms_not_four() -> None:
    clock = FakeClock()
    engine = RuleEngine(
        [DeviceInfo("CAM-1", DeviceKind.CAMERA, "z1", "opd", 3.0)], RuleSet(), clock
    )
    dark = [
        Reading("CAM-1", p, v)
        for p, v in (("online", False), ("recording", False), ("video_loss", True))
    ]
    for _ in range(30):  # the NVR keeps reporting the dark camera
        engine.on_readings(dark)
        clock.advance(1)
        engine.tick()
    assert needing_a_person(engine) == ["blind_spot:z1", "camera_offline:CAM-1"]
    assert {a.id: a.held_by for a in engine.alarms.values() if a.held_by} == {
        "camera_not_recording:CAM-1": "camera_offline:CAM-1",
        "camera_video_loss:CAM-1": "camera_offline:CAM-1",
    }


def test_a_confirmed_fire_is_acknowledged_with_one_command_not_three() -> None:
    clock = FakeClock()
    devices = [DeviceInfo(f"SD-{n}", DeviceKind.SMOKE_DETECTOR, "ward-3", "ip1") for n in (1, 2)]
    engine = RuleEngine(devices, RuleSet(), clock)
    engine.on_readings([Reading("SD-1", "status", "fire"), Reading("SD-2", "status", "fire")])
    fires = {a.id: a.group for a in engine.alarms.values()}
    assert fires == dict.fromkeys(
        ("fire:SD-1", "fire:SD-2", "confirmed_fire:ward-3"), "fire@ward-3"
    )
    result = engine.command("acknowledge", "fire@ward-3", by="chen.wei")
    assert sorted(e.alarm_id for e in result.events) == sorted(fires)
    assert all(a.acknowledged_by == "chen.wei" for a in engine.alarms.values())
    refused = engine.command("acknowledge", "fire@ward-3", by="chen.wei")
    assert refused.reason == "nothing in group fire@ward-3 waits for an acknowledgement"
