"""Response against the security office's rule: acknowledged within 1 minute, someone on site
within 3, contained within 5 (the site's `rules.escalation`, the same times the gateway
escalates by), per department class and priority, and the ten activations that missed the
rule by the most, with their timelines."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from firegw.report.episodes import Episode
from firegw.report.scope import Scope
from firegw.report.stats import Spread, spread
from gateway.config import HazardClass
from rules import Priority

__all__ = ["STEPS", "Late", "Response", "response_of"]

STEPS = ("acknowledge", "on_site", "contain")
WORST_SHOWN = 10


@dataclass(frozen=True)
class Late:
    """One activation that missed the rule: by how many seconds, at which step."""

    episode: Episode
    hazard_class: HazardClass
    seconds_late: float
    step: str
    times: dict[str, float | None]
    """Seconds to each step (None: never reached while the history lasts)."""


@dataclass(frozen=True)
class Response:
    limits: dict[str, float]
    priorities: tuple[Priority, ...]
    """The priorities the rule applies to (escalation); the figures cover every priority."""
    groups: dict[tuple[HazardClass, Priority], dict[str, Spread]]
    classes: dict[HazardClass, dict[str, Spread]]
    worst: list[Late]


def response_of(scope: Scope) -> Response:
    policy = scope.site.config.rules.escalation
    limits = {
        "acknowledge": policy.acknowledge,
        "on_site": policy.on_site,
        "contain": policy.contain,
    }
    end = scope.period.end_ns  # a step never reached is late until the period ends
    times_by_group: dict[tuple[HazardClass, Priority], list[dict[str, float | None]]]
    times_by_group = defaultdict(list)
    lateness: list[Late] = []
    for episode in scope.hazards():
        kind, priority = scope.hazard_class(episode), episode.first.alarm.priority
        times = _times(episode)
        times_by_group[(kind, priority)].append(times)
        if priority in policy.priorities:
            late = _lateness(episode, kind, times, limits, end)
            if late is not None:
                lateness.append(late)
    groups = {
        key: _spreads(rows, limits) for key, rows in sorted(times_by_group.items(), key=_order)
    }
    per_class: dict[HazardClass, list[dict[str, float | None]]] = defaultdict(list)
    for (kind, _), rows in times_by_group.items():
        per_class[kind].extend(rows)
    lateness.sort(
        key=lambda late: (-late.seconds_late, late.episode.raised_at, late.episode.alarm_id)
    )
    return Response(
        limits=limits,
        priorities=tuple(policy.priorities),
        groups=groups,
        classes={kind: _spreads(rows, limits) for kind, rows in per_class.items()},
        worst=lateness[:WORST_SHOWN],
    )


def _order(item: tuple[tuple[HazardClass, Priority], object]) -> tuple[str, int]:
    (kind, priority), _ = item
    return (kind.value, priority.rank)


def _times(episode: Episode) -> dict[str, float | None]:
    acknowledged = episode.acknowledged.at if episode.acknowledged is not None else None
    on_site = episode.on_site.at if episode.on_site is not None else None
    return {
        "acknowledge": episode.seconds_to(acknowledged),
        "on_site": episode.seconds_to(on_site),
        "contain": episode.seconds_to(episode.contained_at),
    }


def _spreads(rows: list[dict[str, float | None]], limits: dict[str, float]) -> dict[str, Spread]:
    return {step: spread([row[step] for row in rows], limits[step]) for step in STEPS}


def _lateness(
    episode: Episode,
    kind: HazardClass,
    times: dict[str, float | None],
    limits: dict[str, float],
    end: int,
) -> Late | None:
    """How far past the rule it went at its worst step (a step never reached counts until the
    history ends); None when it kept to the rule."""
    waited = episode.seconds_to(end) or 0.0
    worst_step, worst = "", 0.0
    for step in STEPS:
        taken = times[step]
        over = (taken if taken is not None else waited) - limits[step]
        if over > worst:
            worst_step, worst = step, over
    if not worst_step:
        return None
    return Late(episode, kind, worst, worst_step, times)
