"""Golden cases: for each rule, sequences of readings in and the alarm events expected out.

Every `tests/rules/golden/<rule>/<case>.yaml` is played through `RuleEngine` on the fake clock
(readings at their second, a tick every half second, then that second's commands) and must
give exactly its `events`, in order. `tests/rules/golden/README.md` describes the format. Every
rule of the default table has a folder, so a new rule comes with its cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.reading import Quality, Value
from rules import DeviceInfo, DeviceKind, RuleSet
from rules.defaults import default_table
from rules.policies import EscalationPolicy
from tests.rules.timeline import Command, Played, Timed, default_site, play, reading

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*/*.yaml"))
_EVENT_KEYS = frozenset({"at", "kind", "alarm"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GoldenDevice(_Strict):
    """A device of the case's site; zone `zone-a` and building `main` unless given."""

    id: str
    kind: DeviceKind
    zone: str = "zone-a"
    building: str = "main"
    supervision: float = 100_000.0
    nominal: dict[str, float] = Field(default_factory=dict)
    link: str | None = None

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            self.id, self.kind, self.zone, self.building, self.supervision, self.nominal, self.link
        )


class GoldenReadings(_Strict):
    """One reading `at` a second, or one `every` few seconds `from` until (excluded) `until`:
    the same `value`, `values` in turn, or a ramp from `value` towards `to`."""

    device: str | None = None
    point: str | None = None
    at: float | None = None
    from_: Annotated[float | None, Field(alias="from")] = None
    until: float | None = None
    every: float = 1.0
    value: Value | None = None
    values: list[Value | None] | None = None
    to: float | None = None
    quality: Quality = Quality.GOOD
    detail: str | None = None

    @model_validator(mode="after")
    def _one_timing(self) -> GoldenReadings:
        if (self.at is None) == (self.from_ is None or self.until is None):
            raise ValueError("give `at`, or `from` and `until`")
        return self

    def times(self) -> list[float]:
        if self.at is not None:
            return [self.at]
        start, until = self.from_ or 0.0, self.until or 0.0
        return [
            round(start + i * self.every, 6) for i in range(round((until - start) / self.every))
        ]

    def value_at(self, index: int, count: int) -> Value | None:
        if self.values is not None:
            return self.values[index % len(self.values)]
        if self.to is not None and isinstance(self.value, int | float):
            return round(self.value + (self.to - self.value) * index / count, 9)
        return self.value


class GoldenCommand(_Strict):
    at: float
    action: str
    alarm: str
    by: str = "security office"
    duration: str | None = None


class GoldenCase(_Strict):
    """A case file: see tests/rules/golden/README.md."""

    description: str
    devices: list[GoldenDevice] | None = None
    rules: dict[str, Any] = Field(default_factory=dict)
    device: str | None = None
    point: str | None = None
    readings: list[GoldenReadings] = Field(default_factory=list)
    commands: list[GoldenCommand] = Field(default_factory=list)
    until: float
    events: list[dict[str, Any]]
    refused: list[dict[str, Any]] = Field(default_factory=list)

    def timed(self) -> list[Timed]:
        return [pair for line in self.readings for pair in self._expand(line)]

    def _expand(self, line: GoldenReadings) -> list[Timed]:
        device, point = line.device or self.device, line.point or self.point
        if device is None or point is None:
            raise ValueError("each reading needs a device and a point (or the case's defaults)")
        times = line.times()
        return [
            (at, reading(device, point, line.value_at(i, len(times)), line.quality, line.detail))
            for i, at in enumerate(times)
        ]

    def rule_set(self) -> RuleSet:
        quiet = {"escalation": EscalationPolicy(priorities=())}
        return RuleSet.model_validate({**quiet, **self.rules})

    def played(self) -> Played:
        devices = [d.info() for d in self.devices] if self.devices is not None else default_site()
        commands = [
            Command(c.at, c.action, c.alarm, c.by, {"duration": c.duration} if c.duration else {})
            for c in self.commands
        ]
        return play(self.timed(), self.until, self.rule_set(), devices, commands)


def load_case(file: Path) -> GoldenCase:
    return GoldenCase.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))


def observed(played: Played, expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as the case writes them: at, kind, alarm, plus the fields it asks about
    (`cause`, or any field of the alarm's JSON such as `active` or `needs_person`)."""
    result = []
    for index, (at, event) in enumerate(played.events):
        wanted = expected[index] if index < len(expected) else {}
        document = {**event.alarm.to_dict(), "cause": event.cause, "by": event.by}
        extra = {key: document.get(key) for key in wanted if key not in _EVENT_KEYS}
        result.append({"at": at, "kind": str(event.kind), "alarm": event.alarm_id, **extra})
    return result


@pytest.mark.parametrize("file", CASES, ids=[f"{f.parent.name}/{f.stem}" for f in CASES])
def test_golden_case(file: Path) -> None:
    case = load_case(file)
    played = case.played()
    assert observed(played, case.events) == case.events
    assert [{"at": at, "reason": reason} for at, reason in played.refused] == case.refused


def test_every_default_rule_has_golden_cases() -> None:
    names = {rule.name for rule in default_table()}
    folders = {folder.name for folder in GOLDEN.iterdir() if any(folder.glob("*.yaml"))}
    assert sorted(names - folders) == []
    assert sorted(folders - names) == []  # a folder for a rule that no longer exists
