"""The feed's alarm JSON says when an alarm still needs a person, and the CLI and the demo
screen show it (issue 12, problem 3): a latched fire whose detector cleared is not over."""

from __future__ import annotations

import json

import pytest

from core.reading import Reading
from firegw.alarms import format_event, format_table
from firegw.screen import _alarm_lines
from gateway.alarms.payloads import (
    alarm_document,
    encode,
    event_document,
    is_gone,
    status_payload,
)
from rules import AlarmEvent, DeviceInfo, DeviceKind, RuleEngine
from rules.clock import FakeClock

DETECTOR = DeviceInfo("SD-1F-01", DeviceKind.SMOKE_DETECTOR, "main-1f-er", "main", 1000.0)


def fire_then_clear() -> tuple[RuleEngine, list[AlarmEvent]]:
    engine = RuleEngine([DETECTOR], clock=FakeClock())
    events = engine.on_readings([Reading("SD-1F-01", "status", "fire")])
    assert isinstance(engine.clock, FakeClock)
    engine.clock.advance(0.8)
    events += engine.on_readings([Reading("SD-1F-01", "status", "normal")])
    return engine, events


def test_a_latched_unreset_fire_whose_detector_cleared_needs_a_person_on_the_feed() -> None:
    engine, events = fire_then_clear()
    alarm = engine.alarms["fire:SD-1F-01"]
    document = json.loads(encode(alarm_document(alarm, "demo")))
    assert (document["active"], document["latched"], document["state"]) == (
        False,
        True,
        "unacknowledged",
    )
    assert document["needs_person"] is True
    assert not is_gone(alarm)
    returned = event_document(events[-1], "demo")
    assert (returned["kind"], returned["cause"]) == (
        "returned_to_normal",
        "condition gone; latched until reset",
    )
    assert returned["alarm"]["needs_person"] is True


def test_after_acknowledge_and_reset_nothing_needs_a_person() -> None:
    engine, _ = fire_then_clear()
    acknowledged = engine.command("acknowledge", "fire:SD-1F-01", by="guard").events
    assert alarm_document(acknowledged[-1].alarm, "demo")["needs_person"] is True  # reset
    reset = engine.command("reset", "fire:SD-1F-01", by="guard").events
    assert alarm_document(reset[-1].alarm, "demo")["needs_person"] is False
    assert engine.alarms == {}


def test_the_cli_says_what_a_person_still_has_to_do() -> None:
    engine, events = fire_then_clear()
    document = alarm_document(engine.alarms["fire:SD-1F-01"], "demo")
    table = format_table([document]).splitlines()
    assert table[1].split()[:5] == [
        "CRITICAL",
        "unacknowledged",
        "main-1f-er",
        "SD-1F-01",
        "fire:SD-1F-01",
    ]
    assert "NEEDS PERSON: acknowledge, then reset (condition gone, latched)" in table[1]
    assert table[-1] == "1 alarm, 1 needs a person"
    line = format_event(event_document(events[-1], "demo"))
    assert line.endswith(
        "NEEDS PERSON: acknowledge, then reset (condition gone, latched)  [unacknowledged]"
    )


def test_the_cli_marks_nothing_once_a_person_has_it_in_hand() -> None:
    engine = RuleEngine([DETECTOR], clock=FakeClock())
    engine.on_readings([Reading("SD-1F-01", "status", "pre_alarm")])
    (event,) = engine.command("acknowledge", "pre_alarm:SD-1F-01", by="guard").events
    document = event_document(event, "demo")
    assert "NEEDS PERSON" not in format_event(document)
    assert format_table([document["alarm"]]).splitlines()[-1] == "1 alarm, none needs a person"


def test_the_demo_screen_shows_a_cleared_latched_fire_as_needing_a_reset() -> None:
    engine, _ = fire_then_clear()
    engine.command("acknowledge", "fire:SD-1F-01", by="guard")
    (line,) = _alarm_lines(list(engine.alarms.values()), False, {}, 10)
    assert line.endswith("[acknowledged, RESET NEEDED]")


def test_the_status_is_sent_with_its_encoded_details_after_the_state() -> None:
    """The feed keeps the status details encoded; what goes out is one JSON object with the
    state first, the same as encoding it whole, and the offline status has no details."""
    details = {"uptime": 12.5, "device_health": {"SD-1F-01": {"state": "ok"}}, "name": "急诊"}
    sent = status_payload("online", "main", 7, encode(details), instance="i-1", host="gw")
    whole = {"state": "online", "site": "main", "at": 7, "instance": "i-1", "host": "gw"}
    assert sent == encode(whole | details)
    assert list(json.loads(sent))[:3] == ["state", "site", "at"]
    offline = status_payload("offline", "main", 8, reason="shut down")
    assert json.loads(offline) == {
        "state": "offline",
        "site": "main",
        "at": 8,
        "reason": "shut down",
    }
    with pytest.raises(ValueError, match="encoded JSON object"):
        status_payload("online", "main", 9, b"[1, 2]")
