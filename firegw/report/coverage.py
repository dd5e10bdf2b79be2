"""Coverage: blind-spot minutes per zone (from the `blind_spot` alarms, which the rules raise
while any camera of a zone is offline, not recording, without video or silent), recording
retention against the required days, the share of time each device answered, and the share
of time each hydrant's pressure was within its limits."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from firegw.report.history import Limits
from firegw.report.scope import Scope
from gateway.config import Site
from rules import DeviceInfo, DeviceKind

__all__ = ["Coverage", "coverage_of", "hydrant_limits", "retention_limits"]

_NS = 1_000_000_000


@dataclass(frozen=True)
class Coverage:
    blind_minutes: dict[str, float]
    """Per zone with cameras: minutes it was a blind spot in the period."""
    blind_by_month: dict[str, dict[str, float]]
    """Per zone, per month: blind-spot minutes."""
    period_minutes: float
    answered: dict[str, float]
    """Per device: share (0-1) of the period's minutes with a good reading."""
    pressure: dict[str, tuple[float | None, int]]
    """Per hydrant: share of its minutes with readings that were within its limits, and how
    many minutes had readings."""
    retention: dict[str, tuple[float, float, float]]
    """Per camera: (lowest, latest, required) retention in days."""

    def zone_coverage(self, zone: str) -> float:
        """Share of the period the zone's cameras covered it."""
        return 1.0 - self.blind_minutes.get(zone, 0.0) / self.period_minutes


def coverage_of(scope: Scope) -> Coverage:
    period = scope.period
    minutes = period.seconds / 60
    blind, by_month = _blind_spots(scope)
    readings = scope.history.readings
    hydrants = hydrant_limits(scope.site)
    return Coverage(
        blind_minutes=blind,
        blind_by_month=by_month,
        period_minutes=minutes,
        answered={
            device: min(1.0, readings.answered.get(device, 0) / minutes)
            for device in scope.site.devices
        },
        pressure={
            device: _share(*readings.pressure.get(device, (0, 0))) for device in sorted(hydrants)
        },
        retention={
            device: (*readings.retention[device], required)
            for device, required in retention_limits(scope.site).items()
            if device in readings.retention
        },
    )


def _share(within: int, total: int) -> tuple[float | None, int]:
    return (within / total if total else None, total)


def _blind_spots(scope: Scope) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Minutes each zone with cameras was blind, in all and per month, clipped to the period."""
    period = scope.period
    zones = sorted({d.zone for d in scope.site.config.devices if d.kind is DeviceKind.CAMERA})
    since: dict[str, int] = {
        alarm_id.partition(":")[2]: period.start_ns
        for alarm_id in scope.history.active_at_start
        if alarm_id.startswith("blind_spot:")
    }
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for event in scope.history.events:
        if event.alarm.rule != "blind_spot" or event.at >= period.end_ns:
            continue
        zone = event.alarm.zone
        if event.alarm.active and zone not in since:
            since[zone] = max(event.at, period.start_ns)
        elif not event.alarm.active and zone in since:
            spans[zone].append((since.pop(zone), max(event.at, period.start_ns)))
    for zone, began in since.items():
        spans[zone].append((began, period.end_ns))
    by_month: dict[str, dict[str, float]] = {}
    for zone in zones:
        months = dict.fromkeys(period.months(), 0.0)
        for began, ended in spans.get(zone, []):
            for month, seconds in _split_by_month(scope, began, ended):
                months[month] += seconds / 60
        by_month[zone] = months
    return {zone: sum(months.values()) for zone, months in by_month.items()}, by_month


def _split_by_month(scope: Scope, began: int, ended: int) -> list[tuple[str, float]]:
    """The span's seconds in each month it touches."""
    parts: list[tuple[str, float]] = []
    at = began
    for day in scope.period.days():
        day_ns = int(day.timestamp()) * _NS
        if day.day == 1 and began < day_ns < ended:
            parts.append((scope.period.month_of(at), (day_ns - at) / _NS))
            at = day_ns
    if ended > at:
        parts.append((scope.period.month_of(at), (ended - at) / _NS))
    return parts


def _info(site: Site, device_id: str) -> DeviceInfo:
    device = site.devices[device_id]
    return DeviceInfo(device.id, device.kind, device.zone, site.zones[device.zone].building)


def _limit(site: Site, device_id: str, rule: str) -> float | None:
    for spec in site.config.rules.device_rules(_info(site, device_id)):
        if spec.name == rule:
            return float(getattr(spec, "limit"))  # noqa: B009  # a threshold rule's
    return None


def hydrant_limits(site: Site) -> Limits:
    """Each hydrant's low and high limits (MPa) as its rules have them, overrides applied."""
    return {
        device.id: (
            _limit(site, device.id, "pressure_low"),
            _limit(site, device.id, "pressure_high"),
        )
        for device in site.config.devices
        if device.kind is DeviceKind.HYDRANT_PRESSURE
    }


def retention_limits(site: Site) -> dict[str, float]:
    """Each camera's required retention (days): its `retention_low` limit (90 by default)."""
    found = {}
    for device in site.config.devices:
        if device.kind is DeviceKind.CAMERA:
            limit = _limit(site, device.id, "retention_low")
            found[device.id] = limit if limit is not None else 90.0
    return found
