"""`needs_person`: whether an alarm still needs a person, in every state (issue 12, problem 3).

An alarm needs a person while it is not acknowledged, and a latched alarm (a fire) until a
person resets it, even after its detector has cleared: `active: false` alone would drop a
live fire from a monitor that filters on it.
"""

from __future__ import annotations

import pytest

from rules import Alarm, AlarmState
from tests.rules.timeline import Command, Played, Timed, every, play

FIRE, CLEAR = ["fire"], ["normal"]
LOW, GOOD = [0.05], [0.30]


def detector(start: float, until: float, status: list[str]) -> list[Timed]:
    return every(("SD-1", "status"), start, until, step=1.0, values=status)


def hydrant(start: float, until: float, values: list[float]) -> list[Timed]:
    return every(("HP-1", "pressure"), start, until, step=1.0, values=values)


def ack(at: float, alarm: str) -> Command:
    return Command(at, "acknowledge", alarm)


CASES = [
    # readings, commands, alarm, expected (state, active, needs_person), or None: gone
    pytest.param(detector(0, 10, FIRE), [], "fire:SD-1", ("unacknowledged", True, True), id="fire"),
    pytest.param(
        detector(0, 5, FIRE) + detector(5, 10, CLEAR),
        [],
        "fire:SD-1",
        ("unacknowledged", False, True),
        id="fire, detector cleared, nobody acknowledged",
    ),
    pytest.param(
        detector(0, 10, FIRE),
        [ack(3, "fire:SD-1")],
        "fire:SD-1",
        ("acknowledged", True, True),
        id="fire acknowledged, still in fire: latched until reset",
    ),
    pytest.param(
        detector(0, 5, FIRE) + detector(5, 10, CLEAR),
        [ack(3, "fire:SD-1")],
        "fire:SD-1",
        ("acknowledged", False, True),
        id="fire acknowledged, detector cleared, not reset",
    ),
    pytest.param(
        detector(0, 5, FIRE) + detector(5, 10, CLEAR),
        [ack(3, "fire:SD-1"), Command(8, "reset", "fire:SD-1")],
        "fire:SD-1",
        None,
        id="fire reset: gone from the feed",
    ),
    pytest.param(
        hydrant(0, 40, LOW), [], "pressure_low:HP-1", ("unacknowledged", True, True), id="low"
    ),
    pytest.param(
        hydrant(0, 40, LOW),
        [ack(35, "pressure_low:HP-1")],
        "pressure_low:HP-1",
        ("acknowledged", True, False),
        id="low pressure acknowledged: a person has it in hand",
    ),
    pytest.param(
        hydrant(0, 35, LOW) + hydrant(35, 40, GOOD),
        [],
        "pressure_low:HP-1",
        ("returned_unacknowledged", False, True),
        id="low pressure back to normal, not acknowledged",
    ),
    pytest.param(
        hydrant(0, 40, LOW),
        [Command(35, "shelve", "pressure_low:HP-1", args={"duration": "10m"})],
        "pressure_low:HP-1",
        ("unacknowledged", True, True),
        id="shelved: still needs a person once the shelving ends",
    ),
]


@pytest.mark.parametrize(("readings", "commands", "alarm_id", "expected"), CASES)
def test_needs_person_follows_the_lifecycle(
    readings: list[Timed],
    commands: list[Command],
    alarm_id: str,
    expected: tuple[str, bool, bool] | None,
) -> None:
    played = play(readings, until=10 if alarm_id.startswith("fire") else 40, commands=commands)
    assert played.refused == []
    alarm = played.engine.alarms.get(alarm_id)
    if expected is None:
        assert alarm is None
        return
    assert alarm is not None
    data = alarm.to_dict()
    assert (data["state"], data["active"], data["needs_person"]) == expected
    assert alarm.needs_person is expected[2]


def test_a_latched_fire_whose_detector_cleared_still_needs_a_person_on_every_event() -> None:
    """Issue 12: the returned_to_normal event of a latched, unreset fire carries it too."""
    played: Played = play(detector(0, 5, FIRE) + detector(5, 10, CLEAR), until=10)
    (returned,) = [e for _, e in played.events if str(e.kind) == "returned_to_normal"]
    assert returned.cause == "condition gone; latched until reset"
    assert returned.to_dict()["alarm"]["active"] is False
    assert returned.to_dict()["alarm"]["needs_person"] is True


def test_needs_person_is_derived_not_stored() -> None:
    """Restoring an alarm ignores a stale `needs_person` and works it out from the state."""
    played = play(detector(0, 5, FIRE), until=5)
    data = {**played.engine.alarms["fire:SD-1"].to_dict(), "needs_person": False}
    restored = Alarm.from_dict(data)
    assert (restored.state, restored.needs_person) == (AlarmState.UNACKNOWLEDGED, True)
