"""The rule configuration: the default table plus overrides per device kind, zone and device.

In a site file it sits under `rules:`; an empty `rules: {}` means the default table as it is.
Overrides apply in the order kind, zone, device, each changing only the fields it sets, and
every override is checked against the rule it changes when the config is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core import FiregwError
from rules.defaults import default_table
from rules.model import AlarmClass, DeviceInfo, DeviceKind
from rules.policies import ChatteringPolicy, EscalationPolicy, OutOfServicePolicy, ShelvingPolicy
from rules.specs import (
    LINK,
    AnyRule,
    BlindSpotRule,
    CoincidenceRule,
    DeviceRule,
    RuleName,
    RuleOverride,
    RuleSpec,
    Window,
    ZoneRule,
    is_device_rule,
    is_zone_rule,
)

Overrides = Mapping[RuleName, RuleOverride]
_R = TypeVar("_R", bound=AnyRule)


class RuleConfigError(FiregwError, ValueError):
    """A rule configuration that does not fit the site; `key` is where, as a dotted path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"rules.{key}: {message}")
        self.key = key


class RuleSet(BaseModel):
    """Which rules run, with what limits and timings, for every device of a site.

    - `table`: the rules per device kind (defaults: `rules/defaults.py`); replacing it replaces all.
    - `extra`: site rules added to the table (a heat rule on detector temperature, say).
    - `kinds`, `zones`, `devices`: overrides by rule name, e.g. a lower pressure minimum for one
      hydrant, a longer on-delay in one zone, or `enabled: false` to switch a rule off.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: tuple[RuleSpec, ...] = Field(default_factory=default_table)
    extra: tuple[RuleSpec, ...] = ()
    kinds: Mapping[DeviceKind, Overrides] = Field(default_factory=dict)
    zones: Mapping[str, Overrides] = Field(default_factory=dict)
    devices: Mapping[str, Overrides] = Field(default_factory=dict)
    escalation: EscalationPolicy = EscalationPolicy()
    shelving: ShelvingPolicy = ShelvingPolicy()
    out_of_service: OutOfServicePolicy = OutOfServicePolicy()
    chattering: ChatteringPolicy = ChatteringPolicy()
    stale_after: Annotated[Window, Field(description="active this long is a stale alarm")] = 86400.0

    @property
    def rules(self) -> tuple[AnyRule, ...]:
        """The table and the extra rules, before any override."""
        return self.table + self.extra

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_names(self.rules)
        _check_references(self.rules)
        for kind, overrides in self.kinds.items():
            _check_overrides(f"kinds.{kind}", overrides, self.rules, kind=kind)
        for zone, overrides in self.zones.items():
            _check_overrides(f"zones.{zone}", overrides, self.rules)
        for device, overrides in self.devices.items():
            _check_overrides(f"devices.{device}", overrides, self.rules, device=True)
        return self

    def device_rules(self, device: DeviceInfo) -> list[DeviceRule]:
        """The enabled rules that watch `device`, with every override applied."""
        layers = self._layers(device.kind, device.zone, device.id)
        rules = [rule for rule in self.rules if rule.kind is device.kind]
        resolved = [_apply(rule, layers) for rule in rules if is_device_rule(rule)]
        return [rule for rule in resolved if rule.enabled]

    def zone_rules(self, kind: DeviceKind, zone: str) -> list[ZoneRule]:
        """The enabled zone rules for devices of `kind` in `zone`, with overrides applied."""
        layers = self._layers(kind, zone, None)
        rules = [rule for rule in self.rules if rule.kind is kind]
        resolved = [_apply(rule, layers) for rule in rules if is_zone_rule(rule)]
        return [rule for rule in resolved if rule.enabled]

    def check(self, devices: Iterable[DeviceInfo]) -> None:
        """Raise `RuleConfigError` for an override that names a zone or device the site lacks."""
        devices = list(devices)
        zones = {device.zone for device in devices}
        ids = {device.id for device in devices}
        for zone in self.zones:
            if zone not in zones:
                raise RuleConfigError(f"zones.{zone}", f"no device is in zone {zone!r}")
        for device in self.devices:
            if device not in ids:
                raise RuleConfigError(f"devices.{device}", f"unknown device {device!r}")

    def _layers(self, kind: DeviceKind, zone: str, device: str | None) -> list[Overrides]:
        layers = [self.kinds.get(kind), self.zones.get(zone)]
        layers.append(self.devices.get(device) if device is not None else None)
        return [layer for layer in layers if layer]


def default_rules() -> RuleSet:
    """The default table without overrides: what a site gets when it says nothing."""
    return RuleSet()


def _apply(rule: _R, layers: list[Overrides]) -> _R:
    """`rule` with the overrides of each layer that names it, in order."""
    changes: dict[str, Any] = {}
    for layer in layers:
        override = layer.get(rule.name)
        if override is not None:
            changes.update(override.changes())
    if not changes:
        return rule
    return cast(_R, rule.model_validate({**rule.model_dump(), **changes}))


def _check_names(rules: tuple[AnyRule, ...]) -> None:
    seen: set[tuple[DeviceKind, str]] = set()
    for rule in rules:
        if (rule.kind, rule.name) in seen:
            raise ValueError(f"two rules named {rule.name!r} for {rule.kind}")
        seen.add((rule.kind, rule.name))


def _check_references(rules: tuple[AnyRule, ...]) -> None:
    """A confirmed-fire rule needs its source rule, a blind-spot rule its causes, and a rule
    held by others needs them; no fire rule is ever held back."""
    names = {(rule.kind, rule.name) for rule in rules if not is_zone_rule(rule)}
    for rule in rules:
        wanted: tuple[str, ...] = tuple(name for name in rule.held_by if name != LINK)
        if isinstance(rule, CoincidenceRule):
            wanted += (rule.source,)
        elif isinstance(rule, BlindSpotRule):
            wanted += rule.causes
        for name in wanted:
            if (rule.kind, name) not in names:
                raise ValueError(f"rule {rule.name!r} refers to {name!r}, no {rule.kind} rule")
        if rule.held_by and rule.alarm_class is AlarmClass.FIRE:
            raise ValueError(f"rule {rule.name!r} is a fire rule: a fire is never held back")


def _check_overrides(
    where: str,
    overrides: Overrides,
    rules: tuple[AnyRule, ...],
    kind: DeviceKind | None = None,
    device: bool = False,
) -> None:
    """Each override must name a rule, set only fields that rule has, and stay valid."""
    for name, override in overrides.items():
        matches = [r for r in rules if r.name == name and kind in (None, r.kind)]
        if not matches:
            known = ", ".join(sorted({r.name for r in rules if kind in (None, r.kind)}))
            raise ValueError(f"{where}.{name}: no rule named {name!r}; rules are: {known}")
        for rule in matches:
            if device and is_zone_rule(rule):
                raise ValueError(f"{where}.{name}: {name} is a zone rule; override it under zones")
            _check_fields(f"{where}.{name}", rule, override)


def _check_fields(where: str, rule: AnyRule, override: RuleOverride) -> None:
    changes = override.changes()
    for field in changes:
        if field not in type(rule).model_fields:
            raise ValueError(f"{where}.{field}: rule {rule.name} ({rule.type}) has no {field}")
    try:
        type(rule).model_validate({**rule.model_dump(), **changes})
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise ValueError(f"{where}.{field}: {problem['msg']}") from None
