"""Every alarm event is one log line (issue 16): raised, acknowledged by whom, returned to
normal, reset, so that the journal alone answers "when did the fire alarm go off, and who
acknowledged it?"."""

from __future__ import annotations

import logging

import pytest

from core.reading import Reading
from gateway.alarms.eventlog import log_events
from rules import DeviceInfo, DeviceKind, RuleEngine
from rules.clock import FakeClock

DETECTOR = DeviceInfo("SD-1F-01", DeviceKind.SMOKE_DETECTOR, "main-1f-er", "main", 1000.0)


def test_a_fire_from_raised_to_reset_is_one_line_per_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    engine = RuleEngine([DETECTOR], clock=clock)
    events = engine.on_readings([Reading("SD-1F-01", "status", "fire")])
    events += engine.command("acknowledge", "fire:SD-1F-01", by="wang.fang").events
    clock.advance(1.0)
    events += engine.on_readings([Reading("SD-1F-01", "status", "normal")])
    events += engine.command("reset", "fire:SD-1F-01", by="li.na").events
    with caplog.at_level(logging.INFO, logger="gateway.alarms.events"):
        log_events(events)
    lines = [(record.levelname, record.getMessage()) for record in caplog.records]
    where = "fire:SD-1F-01 (fire, critical) zone main-1f-er: Smoke detector SD-1F-01 in fire"
    assert lines[0] == ("WARNING", f"alarm raised: {where} (zone main-1f-er)")
    assert ("INFO", f"alarm acknowledged: {where} (zone main-1f-er) by wang.fang") in lines
    assert lines[-1] == ("INFO", f"alarm reset: {where} (zone main-1f-er) by li.na")
    assert len(lines) == len(events)
    assert all("\n" not in message for _, message in lines)


def test_a_name_with_control_characters_cannot_forge_a_second_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = RuleEngine([DETECTOR], clock=FakeClock())
    events = engine.on_readings([Reading("SD-1F-01", "status", "fire")])
    events += engine.command("acknowledge", "fire:SD-1F-01", by="x\nalarm reset: forged").events
    with caplog.at_level(logging.INFO, logger="gateway.alarms.events"):
        log_events(events)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[1].startswith("alarm acknowledged: fire:SD-1F-01 ")
    assert all("\n" not in message for message in messages)
