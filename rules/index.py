"""Binds the rule set to the site's devices once, so a reading finds its monitors in two lookups.

Each device gets its monitors grouped by point (the index by device kind and point, resolved
per device because limits and delays may differ per device); zone rules get one monitor per
zone, fed by the monitors of the devices in it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from rules.comms import CommsMonitor
from rules.conditions import (
    DeviceMonitor,
    RateMonitor,
    StateMonitor,
    ThresholdMonitor,
    ValidityMonitor,
)
from rules.model import DeviceInfo, DeviceKind
from rules.monitor import Monitor, ZoneMonitor
from rules.ruleset import RuleConfigError, RuleSet
from rules.specs import (
    LINK,
    BlindSpotRule,
    CoincidenceRule,
    DeviceRule,
    RateRule,
    StateRule,
    SupervisionRule,
    ThresholdRule,
    ValidityRule,
    ZoneRule,
)
from rules.zones import BlindSpotMonitor, CoincidenceMonitor


@dataclass(slots=True)
class DeviceSlot:
    """One device's monitors: by point for readings, and its communication supervision."""

    info: DeviceInfo
    points: dict[str, list[DeviceMonitor]] = field(default_factory=dict)
    comms: CommsMonitor | None = None
    monitors: list[Monitor] = field(default_factory=list)


@dataclass(slots=True)
class RuleIndex:
    """Every monitor of the site, reachable by device and by alarm id."""

    devices: dict[str, DeviceSlot] = field(default_factory=dict)
    monitors: dict[str, Monitor] = field(default_factory=dict)
    comms: list[CommsMonitor] = field(default_factory=list)
    zones: list[ZoneMonitor] = field(default_factory=list)
    causes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Alarm id -> the alarms whose activity makes it a consequence (see `held_by` of rules)."""

    def add(self, monitor: Monitor) -> None:
        alarm_id = monitor.source.alarm_id
        if alarm_id in self.monitors:
            raise RuleConfigError("table", f"two rules raise the same alarm {alarm_id}")
        self.monitors[alarm_id] = monitor


def build_index(devices: Sequence[DeviceInfo], rules: RuleSet, start: float) -> RuleIndex:
    """Create every monitor; raises `RuleConfigError` for duplicate devices or bad overrides."""
    rules.check(devices)
    index = RuleIndex()
    for device in devices:
        if device.id in index.devices:
            raise RuleConfigError(f"devices.{device.id}", f"device {device.id} is listed twice")
        index.devices[device.id] = _bind_device(index, device, rules, start)
    for (kind, zone), members in _by_zone(devices).items():
        for rule in rules.zone_rules(kind, zone):
            _bind_zone(index, rule, zone, members)
    _bind_causes(index, devices, rules)
    return index


def _bind_causes(index: RuleIndex, devices: Sequence[DeviceInfo], rules: RuleSet) -> None:
    """For each rule held by others, the alarm ids of its causes on this site."""
    for device in devices:
        for rule in rules.device_rules(device):
            causes = _cause_ids(index, rule.held_by, device.id, (device.link,))
            if causes:
                index.causes[f"{rule.name}:{device.id}"] = causes
    for (kind, zone), members in _by_zone(devices).items():
        links = tuple({member.link for member in members})
        for zone_rule in rules.zone_rules(kind, zone):
            causes = _cause_ids(index, zone_rule.held_by, None, links if len(links) == 1 else ())
            if causes:
                index.causes[f"{zone_rule.name}:{zone}"] = causes


def _cause_ids(
    index: RuleIndex, held_by: tuple[str, ...], device: str | None, links: tuple[str | None, ...]
) -> tuple[str, ...]:
    """`held_by` resolved: the device's own alarms of those rules, and its link's alarms."""
    found: list[str] = []
    for name in held_by:
        if name == LINK:
            for link in links:
                slot = index.devices.get(link) if link is not None else None
                found += [monitor.source.alarm_id for monitor in slot.monitors] if slot else []
        elif device is not None and f"{name}:{device}" in index.monitors:
            found.append(f"{name}:{device}")
    return tuple(found)


def _bind_device(index: RuleIndex, device: DeviceInfo, rules: RuleSet, start: float) -> DeviceSlot:
    slot = DeviceSlot(device)
    for rule in rules.device_rules(device):
        if isinstance(rule, SupervisionRule):
            slot.comms = CommsMonitor(rule, device, start)
            index.comms.append(slot.comms)
            monitor: Monitor = slot.comms
        else:
            device_monitor = _device_monitor(rule, device)
            slot.points.setdefault(rule.point, []).append(device_monitor)
            monitor = device_monitor
        slot.monitors.append(monitor)
        index.add(monitor)
    return slot


def _device_monitor(rule: DeviceRule, device: DeviceInfo) -> DeviceMonitor:
    if isinstance(rule, StateRule):
        return StateMonitor(rule, device)
    if isinstance(rule, ThresholdRule):
        return ThresholdMonitor(rule, device)
    if isinstance(rule, RateRule):
        return RateMonitor(rule, device)
    if isinstance(rule, ValidityRule):
        return ValidityMonitor(rule, device)
    raise TypeError(f"rule {rule.name} of type {rule.type} does not watch a point")


def _bind_zone(index: RuleIndex, rule: ZoneRule, zone: str, members: list[DeviceInfo]) -> None:
    """One zone monitor, listening to the named rules of every device in the zone."""
    building = members[0].building
    if isinstance(rule, CoincidenceRule):
        texts = [
            index.monitors[f"{rule.source}:{d.id}"].text
            for d in members
            if f"{rule.source}:{d.id}" in index.monitors
        ]
        monitor: ZoneMonitor = CoincidenceMonitor(rule, zone, building, texts[0] if texts else "")
        names: tuple[str, ...] = (rule.source,)
    elif isinstance(rule, BlindSpotRule):
        cameras = sum(
            any(f"{name}:{d.id}" in index.monitors for name in rule.causes) for d in members
        )
        monitor, names = BlindSpotMonitor(rule, zone, building, cameras), rule.causes
    index.add(monitor)
    index.zones.append(monitor)
    for device in members:
        for name in names:
            member = index.monitors.get(f"{name}:{device.id}")
            if member is not None:
                member.listeners += (monitor,)


def _by_zone(devices: Sequence[DeviceInfo]) -> dict[tuple[DeviceKind, str], list[DeviceInfo]]:
    zones: dict[tuple[DeviceKind, str], list[DeviceInfo]] = defaultdict(list)
    for device in devices:
        zones[(device.kind, device.zone)].append(device)
    return zones
