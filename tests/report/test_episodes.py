"""Activations rebuilt from events, and the report's "announced" against the gateway's own
count of announced alarms (`rules.AlarmLoad`, which is what `firegw status` reports)."""

from __future__ import annotations

from firegw.report.episodes import Outcome, episodes_of, is_announcing
from rules import AlarmEvent, AlarmLoad


def test_the_report_announces_exactly_what_the_alarm_load_counts(
    played: list[AlarmEvent],
) -> None:
    """Event by event: the load counts one more announced alarm exactly when the report's
    test says the event announced one (every kind of event of the scenario, held, latched,
    returned, acknowledged, chattering)."""
    kinds = set()
    for event in played:
        load = AlarmLoad(started=0.0)
        load.count([event], 1.0)
        counted = load.summary([], 1.0).announced
        assert counted == int(is_announcing(event)), event
        kinds.add((str(event.kind), event.alarm.held_by is not None, counted))
    assert ("raised", True, 0) in kinds  # a consequence, held back
    assert ("raised", False, 1) in kinds
    assert ("acknowledged", False, 0) in kinds


def test_an_alarm_raised_again_before_its_return_was_acknowledged_is_one_activation(
    played: list[AlarmEvent],
) -> None:
    flicker = [e for e in episodes_of(played) if e.alarm_id == "pre_alarm:SD-2F-02"]
    assert len(flicker) == 1
    assert sum(1 for e in flicker[0].events if str(e.kind) == "raised") == 12
    assert flicker[0].outcome == Outcome.SELF_CLEARED


def test_an_activation_whose_start_is_before_the_history_is_left_out(
    played: list[AlarmEvent],
) -> None:
    """The history starts after fire:SD-1F-01 was raised: its acknowledgement and reset make
    no activation of their own."""
    raised = next(e for e in played if e.alarm_id == "fire:SD-1F-01")
    later = [e for e in played if e.at > raised.at]
    assert "fire:SD-1F-01" not in {e.alarm_id for e in episodes_of(later)}
