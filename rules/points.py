"""What the rules read from a device's points: which point, as what, in which unit.

A rule reads nothing but its point, so a profile that lacks the point, delivers it as
something else (a number where a state name is expected), in another unit, or with states no
rule knows, switches the rule off without a word. The site check (`gateway/config`) compares
these needs with each profile; the rules themselves never look at profiles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rules.model import DeviceKind
from rules.specs import (
    AnyRule,
    DeviceRule,
    RateRule,
    StateRule,
    StateValue,
    ThresholdRule,
    ValidityRule,
)

NORMAL = "normal"
"""The state that means "nothing to report": every state point may take it."""


class Reads(StrEnum):
    """How a rule reads its point's value."""

    STATE = "a state name"
    FLAG = "true/false"
    NUMBER = "a number"
    ANY = "any value"


@dataclass(frozen=True)
class PointRead:
    """How one rule reads one point.

    `unit` is the unit the rule's limits are in (MPa), `fraction` a setting of the rule that
    needs more than whole numbers ("limit is 0.1 MPa"), and `limit` a threshold rule's limit.
    """

    rule: str
    point: str
    reads: Reads
    unit: str | None = None
    fraction: str | None = None
    limit: float | None = None


def point_reads(rules: Iterable[DeviceRule]) -> list[PointRead]:
    """How each of `rules` reads its point, in rule order; supervision rules read none."""
    reads: list[PointRead] = []
    for rule in rules:
        if isinstance(rule, StateRule):
            reads.append(PointRead(rule.name, rule.point, _state_reads(rule.states)))
        elif isinstance(rule, ThresholdRule | RateRule):
            reads.append(_number_read(rule))
        elif isinstance(rule, ValidityRule):
            reads.append(PointRead(rule.name, rule.point, Reads.ANY))
    return reads


def known_states(rules: Iterable[AnyRule], kind: DeviceKind, point: str) -> tuple[str, ...]:
    """Every state name a rule of `kind` matches on `point`, in rule order, then `normal`.

    Rules switched off count too: a state of a rule disabled on purpose is still a state
    the rules know, not a typo.
    """
    names: dict[str, None] = {}
    for rule in rules:
        if isinstance(rule, StateRule) and rule.kind is kind and rule.point == point:
            names.update((state, None) for state in rule.states if isinstance(state, str))
    names[NORMAL] = None
    return tuple(names)


def _state_reads(states: tuple[StateValue, ...]) -> Reads:
    if all(isinstance(state, bool) for state in states):
        return Reads.FLAG
    if all(isinstance(state, str) for state in states):
        return Reads.STATE
    if all(isinstance(state, int) and not isinstance(state, bool) for state in states):
        return Reads.NUMBER
    return Reads.ANY


def _number_read(rule: ThresholdRule | RateRule) -> PointRead:
    """A threshold or rate rule: a number, in the rule's unit, perhaps needing fractions."""
    settings, unit = _settings(rule)
    fractions = (
        f"{name} is {value:g}{unit}"
        for name, value in settings.items()
        if not float(value).is_integer()
    )
    limit = rule.limit if isinstance(rule, ThresholdRule) and rule.nominal is None else None
    return PointRead(rule.name, rule.point, Reads.NUMBER, rule.unit, next(fractions, None), limit)


def _settings(rule: ThresholdRule | RateRule) -> tuple[dict[str, float], str]:
    """The settings a reading must be fine enough to compare with, and their unit."""
    if isinstance(rule, RateRule):
        return {"rate": rule.rate, "deadband": rule.deadband}, _unit(rule.unit, "/min")
    if rule.nominal is not None:
        return {}, ""  # fractions of each device's own nominal value: nothing fixed to compare
    return {"limit": rule.limit, "deadband": rule.deadband}, _unit(rule.unit)


def _unit(unit: str | None, per: str = "") -> str:
    return f" {unit}{per}" if unit else ""
