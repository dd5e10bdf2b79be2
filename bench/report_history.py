"""A year of the reference site's alarm events, made up with the shapes the gateway writes,
for `bench.report_year`.

Playing a year through the rules engine second by second would take hours, so each
activation is written as the engine's lifecycle makes it (raised, escalated when a deadline
of the 1/3/5-minute rule passes, acknowledged, on site, returned to normal or cleared, reset
for a fire), with the rule table's classes and priorities and the site's devices and zones,
through the gateway's own `EventLines`. The rate is deliberately high: `per_day` activations
a day (150 by default, the ISA-18.2 "manageable" ceiling; the customer reports 127 hazards in
a whole year), and a flood of 40 camera alarms in five minutes once a week: about 210,000
events in all.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from gateway.alarms.lines import EventLines
from gateway.config import Site
from rules import Alarm, AlarmEvent, AlarmState, EventKind, Priority, RuleSet

MIX = {
    "camera_offline": 18,
    "comms_lost": 14,
    "fps_low": 10,
    "detector_fault": 10,
    "pre_alarm": 8,
    "pressure_low": 8,
    "detector_maintenance": 7,
    "camera_tamper": 5,
    "retention_low": 5,
    "camera_not_recording": 5,
    "signal_invalid": 4,
    "pressure_high": 3,
    "detector_isolated": 2,
    "fire": 1,
}
"""The share of each rule among the activations."""
GUARDS = ("chen.wei", "wang.fang", "zhang.lei", "liu.yang")
SUPERVISORS = ("li.na", "zhao.min")
_S = 1_000_000_000


@dataclass(frozen=True)
class _Rule:
    name: str
    kind: str
    alarm_class: str
    priority: Priority
    latched: bool


def _rules() -> dict[str, list[_Rule]]:
    found: dict[str, list[_Rule]] = {}
    for rule in RuleSet().rules:
        if rule.name in MIX:
            found.setdefault(rule.name, []).append(
                _Rule(rule.name, str(rule.kind), str(rule.alarm_class), rule.priority, rule.latched)
            )
    return found


class YearOfAlarms:
    """Events of `year` at the site, in time order (`events`), and their lines (`lines`)."""

    def __init__(self, site: Site, year: int, per_day: int = 150, seed: int = 15) -> None:
        self.site = site
        self.year = year
        self.per_day = per_day
        self.random = random.Random(seed)
        self.rules = _rules()
        self.devices: dict[str, list[str]] = {}
        for device in site.config.devices:
            self.devices.setdefault(str(device.kind), []).append(device.id)

    def lines(self) -> Iterator[str]:
        encode = EventLines(
            self.site.config.site.id, {z.id: str(z.risk) for z in self.site.config.zones}
        )
        for event in self.events():
            yield encode(event)

    def events(self) -> list[AlarmEvent]:
        start = dt.datetime(self.year, 1, 1, tzinfo=dt.UTC)
        seconds = (dt.datetime(self.year + 1, 1, 1, tzinfo=dt.UTC) - start).total_seconds()
        first = int(start.timestamp()) * _S
        events: list[AlarmEvent] = []
        for _ in range(int(self.per_day * seconds / 86_400)):
            events += self._activation(first + int(self.random.uniform(0, seconds - 7200) * _S))
        for week in range(int(seconds // (7 * 86_400))):
            flood = first + int((week * 7 * 86_400 + self.random.uniform(0, 6 * 86_400)) * _S)
            for n in range(40):
                events += self._activation(flood + n * 7 * _S, rule="camera_offline")
        events.sort(key=lambda event: event.at)
        return events

    def _activation(self, raised: int, rule: str | None = None) -> list[AlarmEvent]:
        name = rule or self.random.choices(list(MIX), weights=list(MIX.values()))[0]
        spec = self.random.choice(self.rules[name])
        device_id = self.random.choice(self.devices[spec.kind])
        device = self.site.devices[device_id]
        zone = self.site.zones[device.zone]
        alarm = Alarm(
            id=f"{spec.name}:{device_id}",
            rule=spec.name,
            alarm_class=spec.alarm_class,  # type: ignore[arg-type]
            priority=spec.priority,
            state=AlarmState.UNACKNOWLEDGED,
            building=zone.building,
            zone=zone.id,
            device=device_id,
            value=None,
            message=f"{device_id} {spec.name}",
            raised_at=raised,
            observed_at=raised,
            active=True,
            latched=spec.latched,
            activations=1,
        )
        return self._lifecycle(alarm, raised)

    def _lifecycle(self, alarm: Alarm, raised: int) -> list[AlarmEvent]:
        rnd = self.random
        urgent = alarm.priority in (Priority.CRITICAL, Priority.HIGH)
        acknowledged = raised + int(rnd.lognormvariate(3.7, 0.8) * _S)  # median about 40 s
        on_site = acknowledged + int(rnd.lognormvariate(4.6, 0.6) * _S) if urgent else None
        gone = raised + int(rnd.lognormvariate(5.5, 1.0) * _S)  # median about 4 min
        steps: list[tuple[int, EventKind, str | None]] = [(raised, EventKind.RAISED, None)]
        steps.append((acknowledged, EventKind.ACKNOWLEDGED, rnd.choice(GUARDS)))
        if on_site is not None and rnd.random() < 0.7:
            steps.append((on_site, EventKind.ON_SITE, rnd.choice(GUARDS)))
        steps.append((gone, EventKind.RETURNED_TO_NORMAL, None))
        if alarm.latched:
            steps.append(
                (max(gone, acknowledged) + 120 * _S, EventKind.RESET, rnd.choice(SUPERVISORS))
            )
        if urgent:
            steps += self._escalations(raised, acknowledged, on_site, gone)
        steps.sort(key=lambda step: step[0])
        return list(self._events(alarm, steps))

    @staticmethod
    def _escalations(
        raised: int, acknowledged: int, on_site: int | None, gone: int
    ) -> list[tuple[int, EventKind, str | None]]:
        due = []
        for level, (deadline, met) in enumerate(
            ((60, acknowledged), (180, on_site), (300, gone)), start=1
        ):
            at = raised + deadline * _S
            if met is None or met > at:
                due.append((at, EventKind.ESCALATED, str(level)))
        return due

    @staticmethod
    def _events(
        alarm: Alarm, steps: list[tuple[int, EventKind, str | None]]
    ) -> Iterator[AlarmEvent]:
        for at, step, detail in steps:
            kind, by = step, None
            if kind is EventKind.ESCALATED:
                alarm.escalation_level = int(detail or 0)
            elif kind in (EventKind.ACKNOWLEDGED, EventKind.ON_SITE):
                by = detail
                if alarm.state is AlarmState.RETURNED_UNACKNOWLEDGED:
                    alarm.state = AlarmState.NORMAL
                elif alarm.state is AlarmState.UNACKNOWLEDGED:
                    alarm.state = AlarmState.ACKNOWLEDGED
            elif kind is EventKind.RETURNED_TO_NORMAL:
                alarm.active = False
                if alarm.latched:
                    pass
                elif alarm.state is AlarmState.ACKNOWLEDGED:
                    alarm.state, kind = AlarmState.NORMAL, EventKind.CLEARED
                else:
                    alarm.state = AlarmState.RETURNED_UNACKNOWLEDGED
            elif kind is EventKind.RESET:
                by, alarm.state = detail, AlarmState.NORMAL
            alarm.updated_at = at
            yield AlarmEvent(alarm.id, kind, at, kind.value, copy.copy(alarm), by)
            if alarm.state is AlarmState.NORMAL:
                return
