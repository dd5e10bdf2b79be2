"""Hazards by the department's classes (per month, building, zone and the high-risk zones),
and how they were rectified: by a person's action, by themselves, or not yet."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from firegw.report.classes import HAZARD_CLASSES
from firegw.report.episodes import Episode, Outcome
from firegw.report.scope import Scope
from firegw.report.stats import percentile
from gateway.config import HazardClass

__all__ = ["Hazards", "Rectification", "hazards_of", "rectification_of"]

Counts = dict[HazardClass, int]


def _counts() -> Counts:
    return dict.fromkeys(HAZARD_CLASSES, 0)


@dataclass(frozen=True)
class Hazards:
    total: Counts
    by_month: dict[str, Counts]
    by_building: dict[str, Counts]
    by_zone: dict[str, Counts]
    high_risk: Counts
    """Hazards in the zones whose risk is high."""
    glitches: int
    """Communication glitches, not counted as hazards."""
    consequences: int
    """Alarms never put before a person (held back as a consequence, shelved)."""


def hazards_of(scope: Scope) -> Hazards:
    total, high_risk = _counts(), _counts()
    by_month = {month: _counts() for month in scope.period.months()}
    by_building: dict[str, Counts] = defaultdict(_counts)
    by_zone: dict[str, Counts] = defaultdict(_counts)
    for episode in scope.hazards():
        kind, alarm = scope.hazard_class(episode), episode.first.alarm
        total[kind] += 1
        by_month[scope.period.month_of(episode.raised_at)][kind] += 1
        by_building[alarm.building][kind] += 1
        by_zone[alarm.zone][kind] += 1
        zone = scope.site.zones.get(alarm.zone)
        if zone is not None and zone.risk == "high":
            high_risk[kind] += 1
    outcomes = Counter(e.outcome for e in scope.episodes)
    return Hazards(
        total=total,
        by_month=by_month,
        by_building=dict(by_building),
        by_zone=dict(by_zone),
        high_risk=high_risk,
        glitches=outcomes[Outcome.GLITCH],
        consequences=outcomes[Outcome.CONSEQUENCE],
    )


@dataclass(frozen=True)
class Closer:
    """One person's rectifications: how many, and the median minutes from alarm to closed."""

    count: int
    median_minutes: float | None


@dataclass(frozen=True)
class Rectification:
    outcomes: dict[HazardClass, Counter[str]]
    """Per class, how many hazards were rectified, cleared by themselves, still open."""
    people: dict[str, Closer]
    glitches: Counter[str]
    """Communication glitches by how they ended (rectified by a person, by themselves, open)."""

    def rate(self, kind: HazardClass | None = None) -> float | None:
        """Rectified among the hazards that needed a person's action (all but the
        self-cleared): the department's rectification rate."""
        classes = [kind] if kind is not None else list(self.outcomes)
        rectified = sum(self.outcomes[k][Outcome.RECTIFIED] for k in classes)
        needing = rectified + sum(self.outcomes[k][Outcome.OPEN] for k in classes)
        return rectified / needing if needing else None


def rectification_of(scope: Scope) -> Rectification:
    outcomes: dict[HazardClass, Counter[str]] = {kind: Counter() for kind in HAZARD_CLASSES}
    times: dict[str, list[float]] = defaultdict(list)
    for episode in scope.hazards():
        outcome = episode.outcome
        outcomes[scope.hazard_class(episode)][outcome] += 1
        who = episode.rectified_by
        if outcome == Outcome.RECTIFIED and who is not None and episode.closed is not None:
            times[who].append((episode.seconds_to(episode.closed.at) or 0.0) / 60)
    glitches = Counter(_glitch_end(e) for e in scope.episodes if e.outcome == Outcome.GLITCH)
    people = {
        who: Closer(len(minutes), percentile(minutes, 0.5))
        for who, minutes in sorted(times.items())
    }
    return Rectification(outcomes, people, glitches)


def _glitch_end(episode: Episode) -> str:
    """How a glitch ended, by the same tests as a hazard."""
    if episode.closed is None:
        return Outcome.OPEN
    acknowledged = episode.acknowledged
    contained = episode.contained_at
    if acknowledged is not None and (contained is None or acknowledged.at <= contained):
        return Outcome.RECTIFIED
    return Outcome.SELF_CLEARED
