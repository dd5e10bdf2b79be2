"""Does each profile give the rules of its devices what they read? Checked when a site loads.

A rule reads one point, so a profile without that point, with the point as something else (a
bare number where a state name is expected), with a state name no rule knows (`prealarm` for
`pre_alarm`), in another unit (kPa where the rules take MPa) or in whole numbers where the
rules' limits are fractions, would switch the rule off without a word: each is an error in the
profile's file, at its line. A rule switched off on purpose (`enabled: false` under `rules:`)
reads nothing, so its point may be missing. A transmitter range that looks like kPa or bar is
a warning: it may be meant, but rarely is.

Only profiles that devices use are checked, with the rules of each such device (overrides
applied); a problem shared by many devices is reported once, naming the first few.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from drivers.modbus import DataType, DerivedPoint, ModbusProfile, RegisterPoint
from drivers.mqtt import FieldPoint, FieldType, MqttProfile
from gateway.config.errors import ConfigIssue
from gateway.config.models import Device, SiteConfig
from gateway.config.yamlsource import Path_, YamlDocument
from rules import (
    AlarmClass,
    DeviceInfo,
    DeviceKind,
    PointRead,
    Reads,
    known_states,
    point_reads,
)

Profile = ModbusProfile | MqttProfile

_SAME_UNITS = {"d": "days", "day": "days"}
_TO = {("kPa", "MPa"): 0.001, ("bar", "MPa"): 0.1, ("Pa", "MPa"): 1e-6}
"""Factors for the unit hints: kPa x 0.001 = MPa."""
_LOOKS_LIKE = {"MPa": ((100.0, "kPa", 1000.0), (10.0, "bar", 10.0))}
"""A transmitter top above the first number looks like the second unit (first-match wins)."""
_WHOLE_TYPES = frozenset(DataType) - {DataType.BOOL, DataType.F32, DataType.F64}
_SHOWN_DEVICES = 3


@dataclass(frozen=True)
class Offered:
    """What one point of a profile delivers, and where it is written in the profile file.

    `whole` says why it can only be whole numbers ("u16 without scale"), `span` is the
    transmitter's range for a 4-20 mA point, `states` every state name with where it is.
    """

    where: Path_
    reads: Reads
    described: str
    modbus: bool
    states: tuple[tuple[Path_, object], ...] = ()
    unit: str | None = None
    whole: str | None = None
    span: tuple[float, float] | None = None

    @property
    def type_path(self) -> Path_:
        return self.where if self.where[0] == "derived" else (*self.where, "type")


@dataclass
class _Findings:
    """Problems per profile, each with the devices it concerns, and warnings once each."""

    errors: dict[tuple[str, Path_, str], list[str]] = field(default_factory=dict)
    warnings: dict[tuple[str, Path_, str], None] = field(default_factory=dict)

    def error(self, profile: str, where: Path_, message: str, device: str) -> None:
        self.errors.setdefault((profile, where, message), []).append(device)

    def warn(self, profile: str, where: Path_, message: str) -> None:
        self.warnings[(profile, where, message)] = None

    def issues(
        self, documents: dict[str, YamlDocument]
    ) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
        """(errors, warnings), placed in their profile files; `{devices}` filled in."""
        errors = [
            documents[profile].issue(where, message.replace("{devices}", _devices(devices)))
            for (profile, where, message), devices in self.errors.items()
        ]
        warnings = [
            documents[profile].issue(where, message, warning=True)
            for profile, where, message in self.warnings
        ]
        return errors, warnings


def check_rule_points(
    config: SiteConfig, profiles: dict[str, Profile], documents: dict[str, YamlDocument]
) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
    """(errors, warnings) about the points the rules of each device read from its profile.

    Devices whose profile is unknown or of another kind are skipped: `check_site` reports them.
    """
    found = _Findings()
    for device in config.devices:
        profile = profiles.get(device.profile)
        if profile is None or profile.kind != device.kind:
            continue
        reads = point_reads(config.rules.device_rules(_device_info(config, device)))
        _check_device(found, device.id, profile, reads, config)
    return found.issues(documents)


def without_fire_detection(config: SiteConfig) -> list[str]:
    """The devices of a kind that detects fire whose every fire rule the site switched off.

    It may be meant (a detector being replaced), but then `out-of-service`, which ends by
    itself and shows on the feed, is the safe way; a rule switched off stays off silently.
    """
    detecting = {rule.kind for rule in config.rules.rules if _detects_fire(rule)}
    return [
        device.id
        for device in config.devices
        if DeviceKind(device.kind.value) in detecting
        and not any(
            _detects_fire(rule) for rule in config.rules.device_rules(_device_info(config, device))
        )
    ]


def _detects_fire(rule: object) -> bool:
    return getattr(rule, "alarm_class", None) is AlarmClass.FIRE and bool(
        getattr(rule, "latched", False)
    )


def _device_info(config: SiteConfig, device: Device) -> DeviceInfo:
    """The device as the rules see it: enough to resolve its kind, zone and device overrides."""
    building = next((zone.building for zone in config.zones if zone.id == device.zone), "")
    return DeviceInfo(device.id, DeviceKind(device.kind.value), device.zone, building)


def _check_device(
    found: _Findings, device: str, profile: Profile, reads: list[PointRead], config: SiteConfig
) -> None:
    offered = offered_points(profile)
    kind = DeviceKind(profile.kind)
    for point, group in _by_point(reads).items():
        here = offered.get(point)
        if here is None:
            found.error(profile.id, ("points",), _missing(point, group, profile), device)
            continue
        known = known_states(config.rules.rules, kind, point)
        for where, message in _problems(point, group, here, kind, known):
            found.error(profile.id, where, message, device)
        for where, message in _doubts(point, group, here):
            found.warn(profile.id, where, message)


def _by_point(reads: Iterable[PointRead]) -> dict[str, list[PointRead]]:
    grouped: dict[str, list[PointRead]] = {}
    for read in reads:
        grouped.setdefault(read.point, []).append(read)
    return grouped


# --- what a profile's points deliver --------------------------------------------------------


def offered_points(profile: Profile) -> dict[str, Offered]:
    """Every point of the profile by name, as the rules would receive it."""
    if isinstance(profile, MqttProfile):
        return {p.name: _mqtt_point(("points", i), p) for i, p in enumerate(profile.points)}
    offered = {p.name: _register_point(("points", i), p) for i, p in enumerate(profile.points)}
    for index, derived in enumerate(profile.derived):
        offered[derived.name] = _derived_point(("derived", index), derived)
    return offered


def _register_point(where: Path_, point: RegisterPoint) -> Offered:
    if point.enum is not None:
        states = tuple(((*where, "enum", raw), name) for raw, name in point.enum.items())
        return Offered(where, Reads.STATE, "a state name (enum)", True, states, point.unit)
    if point.type is DataType.BOOL:
        return Offered(where, Reads.FLAG, "true/false (bool)", True, unit=point.unit)
    unscaled = point.scale is None and point.current_loop is None
    whole = f"{point.type} without scale" if unscaled and point.type in _WHOLE_TYPES else None
    loop = point.current_loop
    span = (loop.low, loop.high) if loop is not None else None
    described = f"a number ({point.type})"
    return Offered(where, Reads.NUMBER, described, True, unit=point.unit, whole=whole, span=span)


def _derived_point(where: Path_, point: DerivedPoint) -> Offered:
    states: list[tuple[Path_, object]] = [
        ((*where, "first_of", index, "state"), rule.state)
        for index, rule in enumerate(point.first_of)
    ]
    states.append(((*where, "otherwise"), point.otherwise))
    return Offered(where, Reads.STATE, "a state name (derived)", True, tuple(states), point.unit)


def _mqtt_point(where: Path_, point: FieldPoint) -> Offered:
    if point.enum is not None:
        if all(isinstance(value, bool) for value in point.enum.values()):
            return Offered(where, Reads.FLAG, "true/false (enum)", False, unit=point.unit)
        states = tuple(((*where, "enum", word), value) for word, value in point.enum.items())
        return Offered(where, Reads.STATE, "a state name (enum)", False, states, point.unit)
    if point.type is FieldType.BOOL:
        return Offered(where, Reads.FLAG, "true/false (bool)", False, unit=point.unit)
    if point.type is FieldType.STR:
        return Offered(where, Reads.STATE, "text (str)", False, unit=point.unit)
    whole = "int without scale" if point.type is FieldType.INT and point.scale is None else None
    described = f"a number ({point.type})"
    return Offered(where, Reads.NUMBER, described, False, unit=point.unit, whole=whole)


# --- errors ---------------------------------------------------------------------------------


Problem = tuple[Path_, str]


def _missing(point: str, group: list[PointRead], profile: Profile) -> str:
    """The point is not in the profile; `{devices}` is filled in with the devices concerned."""
    names = _names(group)
    derive = (
        " (a derived point can make it from flags)" if isinstance(profile, ModbusProfile) else ""
    )
    which = "those rules" if len(names) > 1 else "that rule"
    return (
        f"no point {point!r}, which {_rules(names, 'read')} for {{devices}}: add it{derive}, "
        f"or switch {which} off under rules: with enabled: false"
    )


def _problems(
    point: str, group: list[PointRead], here: Offered, kind: DeviceKind, known: Sequence[str]
) -> Iterable[Problem]:
    fitting = [read for read in group if read.reads in (Reads.ANY, here.reads)]
    yield from _wrong_type(point, [read for read in group if read not in fitting], here)
    if any(read.reads is Reads.STATE for read in fitting):
        yield from _unknown_states(point, here, kind, known)
    numbers = [read for read in fitting if read.reads is Reads.NUMBER]
    yield from _wrong_unit(point, numbers, here)
    yield from _too_coarse(point, numbers, here)


def _wrong_type(point: str, group: list[PointRead], here: Offered) -> Iterable[Problem]:
    for reads in dict.fromkeys(read.reads for read in group):
        names = _names(read for read in group if read.reads is reads)
        hint = _TYPE_HINTS.get((reads, here.reads, here.modbus))
        yield (
            here.type_path,
            f"{_rules(names, 'read')} {point!r} as {reads}, but it is {here.described}"
            + (f": {hint}" if hint else ""),
        )


_TYPE_HINTS = {
    (Reads.STATE, Reads.NUMBER, True): "give it an enum table, or derive it from flags",
    (Reads.STATE, Reads.FLAG, True): "derive a state from it (derived: with first_of)",
    (Reads.FLAG, Reads.NUMBER, True): "read it as a bool (type: bool, with bits: [n, n])",
    (Reads.STATE, Reads.NUMBER, False): "make it a str field with an enum table",
    (Reads.FLAG, Reads.STATE, False): "map its words to true and false with an enum table",
}


def _unknown_states(
    point: str, here: Offered, kind: DeviceKind, known: Sequence[str]
) -> Iterable[Problem]:
    for where, state in here.states:
        if state in known:
            continue
        close = difflib.get_close_matches(str(state), known, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        yield (
            where,
            f"{state!r} is not a state the {kind} rules know for {point!r}{guess}; they know "
            f"{_and(known)}",
        )


def _wrong_unit(point: str, numbers: list[PointRead], here: Offered) -> Iterable[Problem]:
    if here.unit is None:
        return
    for unit in dict.fromkeys(read.unit for read in numbers if read.unit is not None):
        if _same_unit(unit, here.unit):
            continue
        names = _names(read for read in numbers if read.unit == unit)
        factor = _TO.get((here.unit, unit))
        how = f" ({here.unit} x {factor:g} = {unit})" if factor else f" to {unit}"
        yield (
            (*here.where, "unit"),
            f"{_rules(names, 'take')} {point!r} in {unit}, not {here.unit}: scale it{how} "
            f"and write unit: {unit}",
        )


def _too_coarse(point: str, numbers: list[PointRead], here: Offered) -> Iterable[Problem]:
    """Whole numbers cannot be compared with a limit of 0.1: the rule would never be right."""
    fine = [read for read in numbers if read.fraction is not None]
    if here.whole is None or not fine:
        return
    yield (
        (*here.where, "scale"),
        f"{point!r} is a whole number ({here.whole}), but {_rules(_names(fine), 'need')} "
        f"fractions ({fine[0].rule}'s {fine[0].fraction}): give it a scale",
    )


# --- warnings -------------------------------------------------------------------------------


def _doubts(point: str, group: list[PointRead], here: Offered) -> Iterable[Problem]:
    """A transmitter range that looks like kPa or bar where the rules take MPa."""
    if here.span is None or here.reads is not Reads.NUMBER:
        return
    low, high = here.span
    for unit in dict.fromkeys(read.unit for read in group if read.unit in _LOOKS_LIKE):
        like = next(((other, f) for top, other, f in _LOOKS_LIKE[unit] if high >= top), None)
        if like is None:
            continue
        other, factor = like
        limits = ", ".join(f"{r.rule} {r.limit:g}" for r in group if r.unit == unit and r.limit)
        yield (
            (*here.where, "current_loop", "high"),
            f"a transmitter range of {low:g}-{high:g} {unit} looks like {other} ({high:g} "
            f"{other} = {high / factor:g} {unit}); the rules' limits for {point!r} are {unit}"
            f" ({limits})",
        )


# --- wording --------------------------------------------------------------------------------


def _names(reads: Iterable[PointRead]) -> list[str]:
    return list(dict.fromkeys(read.rule for read in reads))


def _rules(names: Sequence[str], verb: str) -> str:
    """'the rule fire reads' or 'the rules fire and pre_alarm read'."""
    if len(names) == 1:
        return f"the rule {names[0]} {verb}s"
    return f"the rules {_and(names)} {verb}"


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _devices(devices: Sequence[str]) -> str:
    """'DEV-1', 'DEV-1 and DEV-2', or 'DEV-1, DEV-2, DEV-3 and 5 more devices'."""
    if len(devices) <= _SHOWN_DEVICES:
        return _and(devices)
    more = len(devices) - _SHOWN_DEVICES
    return f"{', '.join(devices[:_SHOWN_DEVICES])} and {more} more device{'s' * (more > 1)}"


def _same_unit(one: str, other: str) -> bool:
    return _SAME_UNITS.get(one, one) == _SAME_UNITS.get(other, other)
