"""Derived points: one state computed from other points of the same poll, in priority order.

A panel reports a detector as flags that can be set at once (alarm, trouble, disabled); the
rules want one `status`. A profile's `derived:` list says which flag wins (see `DerivedPoint`);
the readings of every poll of a device get its derived points appended before they reach the
sink. A derived point is only as good as the points it had to look at: if a rule it reached
tested a bad reading, the derived reading is bad too, with that reading's quality.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core import Quality, Reading, ReadingSink
from drivers.modbus.decode import Decoded
from drivers.modbus.profile import DerivedPoint, ModbusProfile
from drivers.modbus.spec import ModbusDevice

_POINT_FAULTS = frozenset({Quality.DECODE_ERROR, Quality.OUT_OF_RANGE})
"""Qualities that are one point's own; the others (timeout, exception, disconnected) are the
whole poll's, and every point already carries the same detail."""


def derive(point: DerivedPoint, readings: Mapping[str, Reading]) -> Decoded:
    """The state of the first rule that holds, or `otherwise`; bad if a rule on the way
    could not be decided because its source reading is bad or missing."""
    for rule in point.first_of:
        source = readings.get(rule.when)
        if source is None:
            return None, Quality.DECODE_ERROR, f"{rule.when}: no reading"
        if not source.good:
            detail = source.detail
            if source.quality in _POINT_FAULTS:
                detail = f"{rule.when}: {detail}"
            return None, source.quality, detail
        if rule.holds(source.value):
            return rule.state, Quality.GOOD, None
    return point.otherwise, Quality.GOOD, None


def derived_readings(profile: ModbusProfile, readings: Sequence[Reading]) -> list[Reading]:
    """The profile's derived points from one poll's readings (all of one device and time)."""
    if not readings:
        return []
    by_name = {reading.point: reading for reading in readings}
    first = readings[0]
    result = []
    for point in profile.derived:
        value, quality, detail = derive(point, by_name)
        result.append(
            Reading(first.device, point.name, value, quality, point.unit, first.observed_at, detail)
        )
    return result


def with_derived(sink: ReadingSink, devices: Sequence[ModbusDevice]) -> ReadingSink:
    """`sink`, with each poll's readings followed by the device's derived points; `sink`
    itself when no device's profile derives any."""
    profiles = {device.id: device.profile for device in devices if device.profile.derived}
    if not profiles:
        return sink

    async def deliver(readings: Sequence[Reading]) -> None:
        profile = profiles.get(readings[0].device) if readings else None
        if profile is not None:
            readings = [*readings, *derived_readings(profile, readings)]
        await sink(readings)

    return deliver
