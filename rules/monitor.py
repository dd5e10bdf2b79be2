"""A monitor is one rule bound to one device or zone: its condition, its delays and its alarm."""

from __future__ import annotations

from typing import ClassVar

from core import Value
from rules.alarm import AlarmSource
from rules.delay import DelayTimer
from rules.model import DeviceInfo
from rules.specs import AnyRule


def device_source(rule: AnyRule, device: DeviceInfo) -> AlarmSource:
    """The alarm `rule` raises for `device`: id `<rule>:<device>`."""
    return AlarmSource(
        f"{rule.name}:{device.id}",
        rule.name,
        rule.alarm_class,
        rule.priority,
        rule.latched,
        device.building,
        device.zone,
        device.id,
    )


def zone_source(rule: AnyRule, zone: str, building: str) -> AlarmSource:
    """The alarm a zone rule raises for `zone`: id `<rule>:<zone>`."""
    return AlarmSource(
        f"{rule.name}:{zone}",
        rule.name,
        rule.alarm_class,
        rule.priority,
        rule.latched,
        building,
        zone,
        None,
    )


class Monitor:
    """The state one rule keeps for one device (or zone).

    The engine feeds it observations; the `timer` turns the raw condition into the debounced
    one the alarm follows. `value` and `observed_at` are those of the latest observation that
    met the condition, so an alarm raised when an on-delay runs out carries the latest value.
    """

    __slots__ = ("listeners", "observed_at", "source", "text", "timer", "value")

    def __init__(self, source: AlarmSource, rule: AnyRule) -> None:
        self.source = source
        self.text = rule.text
        self.timer = DelayTimer(rule.on_delay, rule.off_delay)
        self.value: Value | None = None
        self.observed_at = 0
        self.listeners: tuple[ZoneMonitor, ...] = ()
        """Zone rules that combine this monitor's condition with that of other devices (a
        tuple, empty for most: an empty list each was 0.6 MB at 10x the reference site)."""

    def message(self) -> str:
        """The alarm's message, readable by a facilities engineer."""
        raise NotImplementedError

    def raise_cause(self) -> str:
        """Why the alarm was raised, for the `raised` event."""
        delay = self.timer.on_delay
        return f"condition present for {delay:g} s (on-delay)" if delay else "condition present"

    def clear_cause(self) -> str:
        """Why the condition counts as gone, for the `returned_to_normal` or `cleared` event."""
        delay = self.timer.off_delay
        return f"condition gone for {delay:g} s (off-delay)" if delay else "condition gone"


class ZoneMonitor(Monitor):
    """A zone rule: its condition is computed from the conditions of devices in the zone."""

    __slots__ = ("zone",)

    counts_out_of_service: ClassVar[bool] = True
    """Whether a device out of service still counts (a camera under repair is still blind)."""

    def __init__(self, source: AlarmSource, rule: AnyRule) -> None:
        super().__init__(source, rule)
        self.zone = source.zone

    def member_changed(
        self, member: Monitor, active: bool, now: float, restoring: bool = False
    ) -> bool | None:
        """A device's alarm condition changed; returns the zone's new condition if it changed.

        `restoring` is set when alarms are restored after a restart: the member was already
        active before, so it is not a new activation.
        """
        raise NotImplementedError

    def reconsider(self, now: float) -> bool | None:
        """Recompute the condition from the members alone (after a restore)."""
        raise NotImplementedError
