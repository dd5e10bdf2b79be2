"""Out of service and shelving that cannot hide a fire: they always end, a disablement is
visible, a fire from a device out of service is raised at once, and re-shelving is a privilege.
"""

from __future__ import annotations

from core.reading import Reading
from rules import (
    AlarmClass,
    AlarmEvent,
    AlarmState,
    DeviceInfo,
    DeviceKind,
    EventKind,
    RuleEngine,
    RuleSet,
)
from rules.clock import FakeClock
from rules.policies import EscalationPolicy, OutOfServicePolicy
from tests.rules.test_lifecycle import make, seen, status

HOUR = 3600.0


def of_sd1(events: list[AlarmEvent]) -> list[AlarmEvent]:
    return [event for event in events if event.alarm.device == "SD-1"]


def test_out_of_service_ends_by_itself_and_says_so() -> None:
    engine, clock = make()
    result = engine.command("out_of_service", "SD-1", by="li.na", duration="30m")
    assert result.ok
    disablement = engine.alarms["out_of_service:SD-1"]
    assert (disablement.active, disablement.state, disablement.alarm_class) == (
        True,
        AlarmState.ACKNOWLEDGED,
        AlarmClass.TROUBLE,
    )
    assert disablement.message == (
        "Smoke detector SD-1 out of service for 30 min (by li.na): its alarms are held back; "
        "a fire still reaches the feed"
    )
    clock.advance(29 * 60)
    assert of_sd1(engine.tick()) == []
    clock.advance(61)
    events = of_sd1(engine.tick())
    assert sorted(str(e.kind) for e in events) == ["cleared"] + ["in_service"] * 6
    assert {e.cause for e in events} == {"out of service expired"}
    assert not any(alarm.out_of_service for alarm in engine.alarms.values())


def test_out_of_service_without_a_duration_lasts_the_maximum_and_no_longer() -> None:
    rules = RuleSet(
        escalation=EscalationPolicy(priorities=()),
        out_of_service=OutOfServicePolicy(max_duration=2 * HOUR),
    )
    engine, clock = make(rules)
    refused = engine.command("out_of_service", "SD-1", by="li.na", duration="3h")
    assert refused.reason == "out of service for 10800 s exceeds the maximum of 7200 s"
    assert engine.command("out_of_service", "SD-1", by="li.na").ok
    until = engine.alarms["fire:SD-1"].out_of_service_until
    assert until == clock.wall_ns() + round(2 * HOUR * 1e9)
    clock.advance(2 * HOUR + 1)
    engine.tick()
    assert "out_of_service:SD-1" not in engine.alarms


def test_a_fire_from_a_detector_out_of_service_is_raised_at_once() -> None:
    engine, _ = make()
    assert engine.command("out_of_service", "SD-1", by="li.na").ok
    assert status(engine, "SD-1", "pre_alarm") == []  # held back: maintenance
    events = status(engine, "SD-1", "fire")
    assert seen(events) == [("raised", "fire:SD-1", "unacknowledged")]
    (raised,) = events
    assert raised.alarm.out_of_service
    assert raised.cause.endswith("(device out of service: a fire is never held back)")


def test_a_whole_zone_goes_out_of_service_and_comes_back() -> None:
    """Renovation of a ward: every device of the zone at once, one disablement on the feed."""
    engine, _ = make()
    result = engine.command("out_of_service", "ward-3", by="li.na", duration="4h")
    assert result.ok
    held = {e.alarm.device for e in result.events if e.kind is EventKind.OUT_OF_SERVICE}
    assert held == {"SD-1", "SD-2", "HP-1", "CAM-1", None}  # None: the zone's own rules
    assert not any(e.alarm.zone == "ward-4" for e in result.events)
    disablement = engine.alarms["out_of_service:ward-3"]
    assert (disablement.zone, disablement.device, disablement.active) == ("ward-3", None, True)
    assert disablement.message.startswith("Zone ward-3 out of service for 4 h (by li.na)")
    assert status(engine, "SD-2", "pre_alarm") == []  # held back: maintenance
    assert seen(status(engine, "SD-2", "fire"))[0] == ("raised", "fire:SD-2", "unacknowledged")

    back = engine.command("in_service", "ward-3", by="li.na")
    assert back.ok
    assert not any(alarm.out_of_service for alarm in engine.alarms.values())
    assert ("cleared", "out_of_service:ward-3", "normal") in seen(back.events)
    assert engine.command("in_service", "ward-3", by="li.na").reason == (
        "Zone ward-3 is not out of service"
    )


def test_a_zone_out_of_service_also_ends_by_itself() -> None:
    engine, clock = make()
    assert engine.command("out_of_service", "ward-3", by="li.na", duration="1h").ok
    clock.advance(HOUR + 1)
    events = engine.tick()
    assert not any(alarm.out_of_service for alarm in engine.alarms.values())
    assert ("cleared", "out_of_service:ward-3", "normal") in seen(events)


def test_the_gateways_own_alarms_cannot_be_taken_out_of_service() -> None:
    devices = [
        DeviceInfo("SD-1", DeviceKind.SMOKE_DETECTOR, "ward-3", "ip1", 1000.0),
        DeviceInfo("firegw-x", DeviceKind.GATEWAY, "", "", 1000.0),
    ]
    engine = RuleEngine(devices, RuleSet(), FakeClock())
    for target in ("firegw-x", "history_not_stored:firegw-x"):
        refused = engine.command("out_of_service", target, by="li.na")
        assert refused.reason == (
            f"{target} is the gateway's own: its alarms say when history or storage fails, "
            "and cannot be taken out of service"
        )


def test_out_of_service_and_its_expiry_survive_a_restart() -> None:
    engine, clock = make()
    assert engine.command("out_of_service", "SD-1", by="li.na", duration="1h").ok
    saved = list(engine.alarms.values())
    clock.advance(10 * 60)
    fresh = RuleEngine(
        [DeviceInfo("SD-1", DeviceKind.SMOKE_DETECTOR, "ward-3", "ip1", 1000.0)],
        RuleSet(escalation=EscalationPolicy(priorities=())),
        clock,
    )
    fresh.restore(saved)
    assert fresh.alarms["out_of_service:SD-1"].active
    assert fresh.on_readings([Reading("SD-1", "status", "pre_alarm")]) == []
    clock.advance(51 * 60)
    assert {str(e.kind) for e in of_sd1(fresh.tick())} == {"in_service", "cleared"}


def test_shelving_again_right_after_a_shelf_ran_out_is_known() -> None:
    engine, clock = make()
    status(engine, "SD-1", "fault")
    clock.advance(11)
    engine.tick()
    assert engine.command("shelve", "detector_fault:SD-1", by="li.na", duration="10m").ok
    assert not engine.shelving_again("detector_fault:SD-1")
    clock.advance(601)
    engine.tick()
    assert engine.shelving_again("detector_fault:SD-1")
    clock.advance(HOUR)
    assert not engine.shelving_again("detector_fault:SD-1")


def test_the_classes_a_command_would_touch() -> None:
    engine, _ = make()
    assert engine.classes_of("fire:SD-1") == {AlarmClass.FIRE}
    assert AlarmClass.FIRE in engine.classes_of("SD-1")
    assert engine.classes_of("pressure_low:HP-1") == {AlarmClass.SUPERVISORY}
    assert engine.classes_of("nothing:here") == frozenset()
