"""What every figure of a report is worked out from: the site, the period, the department's
classes, the history read, and the activations raised within the period."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from firegw.report.classes import HazardClasses
from firegw.report.episodes import Episode, Outcome, episodes_of, within
from firegw.report.history import History
from firegw.report.period import Period
from gateway.config import HazardClass, Site

__all__ = ["Scope"]


@dataclass(frozen=True)
class Scope:
    site: Site
    period: Period
    classes: HazardClasses
    history: History
    episodes: list[Episode] = field(default_factory=list)

    @classmethod
    def of(cls, site: Site, period: Period, history: History) -> Scope:
        episodes = within(episodes_of(history.events), period.start_ns, period.end_ns)
        classes = HazardClasses(site.config.report.classes)
        return cls(site, period, classes, history, episodes)

    def hazard_class(self, episode: Episode) -> HazardClass:
        alarm = episode.first.alarm
        return self.classes.of(alarm.rule, alarm.alarm_class)

    def hazards(self) -> list[Episode]:
        """The activations that count as hazards: put before a person, of a department class,
        not a communication glitch."""
        return self._hazards

    @cached_property
    def _hazards(self) -> list[Episode]:
        return [
            e
            for e in self.episodes
            if e.outcome not in (Outcome.GLITCH, Outcome.CONSEQUENCE)
            and self.hazard_class(e) is not HazardClass.NONE
        ]

    def zone_name(self, zone: str, lang: str) -> str:
        found = self.site.zones.get(zone)
        if found is None:
            return zone or "-"
        return (found.name_zh if lang.startswith("zh") and found.name_zh else found.name) or zone

    def building_name(self, building: str, lang: str) -> str:
        found = self.site.buildings.get(building)
        if found is None:
            return building or "-"
        chinese = lang.startswith("zh") and found.name_zh
        return (found.name_zh if chinese else found.name) or building
