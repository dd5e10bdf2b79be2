"""Activations: an alarm from the moment it was raised until it was gone, with what people did.

The report counts activations, not events: one alarm raised, acknowledged, marked on site,
contained and reset is one hazard with one response. An activation starts at a `raised`
that the engine counts as new (`raised_at` changes: an alarm raised again before anybody
acknowledged its return is the same activation) and ends when the alarm is normal again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from rules import AlarmEvent, AlarmState, EventKind

__all__ = [
    "COMMUNICATION_RULES",
    "Episode",
    "Outcome",
    "episodes_of",
    "is_announcing",
    "within",
]

COMMUNICATION_RULES = frozenset({"comms_lost", "link_lost"})
"""Rules whose alarms are communication glitches: counted apart, never as rectified hazards."""

_ANNOUNCING = (EventKind.RAISED, EventKind.RELEASED)
_RESPONSE_STARTS = (*_ANNOUNCING, EventKind.UNSHELVED, EventKind.IN_SERVICE)


def is_announcing(event: AlarmEvent) -> bool:
    """Whether `event` put the alarm in front of a person who has to act on it: raised or
    released, needing a person, not held back as a consequence, not shelved or out of service.

    The same test as the alarm load's (`rules.AlarmLoad`, ISA-18.2 "announced"), which the
    report uses for the alarm system's health; tests/report/test_episodes.py holds them equal.
    """
    alarm = event.alarm
    return (
        event.kind in _ANNOUNCING
        and alarm.needs_person
        and alarm.held_by is None
        and not alarm.suppressed
    )


class Outcome:
    """How an activation ended (`Episode.outcome`)."""

    RECTIFIED = "rectified"
    """Closed by a person: reset, or acknowledged while present and then cleared."""
    SELF_CLEARED = "self_cleared"
    """Its condition went away before anybody acknowledged it."""
    OPEN = "open"
    """Not over when the history ends: still present, or latched and not reset."""
    GLITCH = "glitch"
    """A communication glitch: a device or a link not answering."""
    CONSEQUENCE = "consequence"
    """Never put before a person: held back as the consequence of a cause (a link), or
    shelved or out of service for as long as it lasted."""


@dataclass
class Episode:
    """One activation of one alarm, and its events in order."""

    first: AlarmEvent
    events: list[AlarmEvent] = field(default_factory=list)
    announced_at: int | None = None
    """When it was put in front of a person (the response clock starts here)."""
    announced: bool = False
    """Whether a `raised` or `released` announced it (the alarm load's count)."""
    acknowledged: AlarmEvent | None = None
    on_site: AlarmEvent | None = None
    contained_at: int | None = None
    """When its condition was first gone after it was announced."""
    closed: AlarmEvent | None = None
    """The event after which it was normal again."""
    held: bool = False

    @property
    def alarm_id(self) -> str:
        return self.first.alarm_id

    @property
    def rule(self) -> str:
        return self.first.alarm.rule

    @property
    def raised_at(self) -> int:
        return self.first.alarm.raised_at

    @property
    def device(self) -> str | None:
        return self.first.alarm.device

    @property
    def source(self) -> str:
        """The device it is about, or the zone for a zone alarm."""
        return self.first.alarm.device or self.first.alarm.zone or self.alarm_id

    def add(self, event: AlarmEvent) -> None:
        self.events.append(event)
        alarm = event.alarm
        self.held = self.held or alarm.held_by is not None
        if is_announcing(event):
            self.announced = True
        if self.announced_at is None and _starts_response(event):
            self.announced_at = event.at
        acknowledging = event.kind in (EventKind.ACKNOWLEDGED, EventKind.ON_SITE)
        if acknowledging and event.by is not None and self.acknowledged is None:
            self.acknowledged = event  # on site also acknowledges, in the same instant
        if event.kind is EventKind.ON_SITE and self.on_site is None:
            self.on_site = event
        if self.announced_at is not None and self.contained_at is None and not alarm.active:
            self.contained_at = event.at
        if alarm.state is AlarmState.NORMAL and self.closed is None:
            self.closed = event

    def seconds_to(self, at: int | None) -> float | None:
        """Seconds from being announced to `at` (None when either is missing)."""
        if at is None or self.announced_at is None:
            return None
        return max(0.0, (at - self.announced_at) / 1e9)

    @cached_property
    def outcome(self) -> str:
        """How it ended (`Outcome`); read once the history is complete."""
        if self.rule in COMMUNICATION_RULES:
            return Outcome.GLITCH
        if self.announced_at is None:
            return Outcome.CONSEQUENCE
        closed = self.closed
        if closed is not None and closed.kind is EventKind.RESET:
            return Outcome.RECTIFIED
        acknowledged_at = self.acknowledged.at if self.acknowledged is not None else None
        contained = self.contained_at
        if contained is not None and (acknowledged_at is None or contained < acknowledged_at):
            return Outcome.OPEN if self.first.alarm.latched else Outcome.SELF_CLEARED
        if closed is not None and acknowledged_at is not None:
            return Outcome.RECTIFIED
        return Outcome.OPEN

    @property
    def rectified_by(self) -> str | None:
        """Who closed it: the person who reset it, or who acknowledged it before it cleared."""
        if self.closed is not None and self.closed.kind is EventKind.RESET:
            return self.closed.by
        return self.acknowledged.by if self.acknowledged is not None else None


def _starts_response(event: AlarmEvent) -> bool:
    alarm = event.alarm
    return (
        event.kind in _RESPONSE_STARTS
        and alarm.needs_person
        and alarm.held_by is None
        and not alarm.suppressed
    )


def episodes_of(events: Iterable[AlarmEvent]) -> list[Episode]:
    """Every activation that starts with one of `events` (in time order), in order of start.

    Events of an activation raised before the first event (the history starts in its middle)
    are left out: the report counts activations by when they were raised.
    """
    current: dict[str, Episode] = {}
    found: list[Episode] = []
    for event in events:
        episode = current.get(event.alarm_id)
        if episode is None or episode.closed is not None or _new_activation(episode, event):
            if event.kind is not EventKind.RAISED:
                current.pop(event.alarm_id, None)
                continue
            episode = current[event.alarm_id] = Episode(event)
            found.append(episode)
        episode.add(event)
    return found


def _new_activation(episode: Episode, event: AlarmEvent) -> bool:
    return event.kind is EventKind.RAISED and event.alarm.raised_at != episode.raised_at


def within(episodes: Sequence[Episode], start: int, end: int) -> list[Episode]:
    """The activations raised from `start` (included) to `end` (excluded)."""
    return [e for e in episodes if start <= e.raised_at < end]
