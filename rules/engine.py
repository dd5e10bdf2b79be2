"""The rules engine: readings and clock ticks in, alarm events out. Pure: no I/O, no asyncio.

The gateway feeds it every batch of readings, calls `tick()` about twice a second (delays,
supervision windows, escalation and shelving expiry run on the tick), passes people's
commands to `command()`, and publishes and stores the events it gets back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from core import Quality, Reading
from rules.alarm import Alarm
from rules.clock import Clock, SystemClock
from rules.commands import (
    GROUP_MARK,
    Action,
    CommandResult,
    Commands,
    Now,
    SourceAndMessage,
)
from rules.disablement import enable_where_done, is_disablement
from rules.events import AlarmEvent, in_publication_order
from rules.index import build_index
from rules.lifecycle import AlarmBook, AlarmRecord
from rules.model import AlarmClass, DeviceInfo, DeviceKind
from rules.monitor import Monitor, ZoneMonitor
from rules.ruleset import RuleSet, default_rules

_GOOD = Quality.GOOD
_SHARED = (DeviceKind.LINK, DeviceKind.GATEWAY)
"""Watched like devices, but serving more than one zone: not taken out with a zone."""


class RuleEngine:
    """Turns readings into alarms and keeps every alarm's lifecycle.

    Not thread-safe: call it from one task. Events come back in publication order, fire
    first. Readings of devices the engine does not know are counted in `unknown_readings`.
    """

    def __init__(
        self,
        devices: Sequence[DeviceInfo],
        rules: RuleSet | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Bind the rules to the devices; raises `RuleConfigError` if they do not fit."""
        self.rules = rules if rules is not None else default_rules()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._index = build_index(devices, self.rules, self.clock.monotonic())
        self._book = AlarmBook(self.rules, self._index.causes)
        self._commands = Commands(self._book, self._device_alarms, self._lookup, self._label)
        self._pending: dict[str, Monitor] = {}
        self._unpolled = 0.0
        self.unknown_readings = 0

    @property
    def alarms(self) -> Mapping[str, Alarm]:
        """Every alarm that is not normal (or is shelved or out of service), as copies."""
        return {record.alarm.id: record.alarm.snapshot() for record in self._book}

    def on_readings(self, readings: Sequence[Reading]) -> list[AlarmEvent]:
        """Evaluate a batch of readings; returns the events they caused, fire first."""
        now = self.clock.monotonic()
        supervised = now - self._unpolled
        events: list[AlarmEvent] = []
        devices, pending = self._index.devices, self._pending
        # the hot loop (every reading of the site): kept inline, two lookups per reading
        for reading in readings:
            slot = devices.get(reading.device)
            if slot is None:
                self.unknown_readings += 1
                continue
            comms = slot.comms
            if comms is not None and reading.quality is _GOOD:
                change = comms.heard(supervised, now)
                if change is not None:
                    events.extend(self._changed(comms, change, now))
            for monitor in slot.points.get(reading.point, ()):
                change = monitor.observe(reading, now)
                if monitor.timer.raw is not monitor.timer.active:
                    pending[monitor.source.alarm_id] = monitor
                if change is not None:
                    events.extend(self._changed(monitor, change, now))
        return in_publication_order(events)

    def tick(self, unpolled: float | None = None) -> list[AlarmEvent]:
        """Let time act: supervision windows, on/off-delays, shelving expiry, escalation.

        `unpolled` is the gateway's running total of seconds since the engine started during
        which it could not poll (its own loop starved, its connections still waiting their
        turn at a start): that time is not counted against any device's supervision window,
        so a gateway's own trouble never becomes a communication loss of every device.
        """
        now = self.clock.monotonic()
        if unpolled is not None and unpolled > self._unpolled:
            self._unpolled = unpolled
        events = self._supervise(now)
        for alarm_id, monitor in list(self._pending.items()):
            change = monitor.timer.due(now)
            if not monitor.timer.pending:
                del self._pending[alarm_id]
            if change is not None:
                events.extend(self._changed(monitor, change, now))
        wall = self.clock.wall_ns()
        events.extend(self._book.tick(now, wall))
        events.extend(enable_where_done(self._book, "out of service expired", wall))
        return in_publication_order(events)

    def _supervise(self, now: float) -> list[AlarmEvent]:
        """Communication loss of every device whose supervision window has just passed."""
        events: list[AlarmEvent] = []
        supervised = now - self._unpolled
        for comms in self._index.comms:
            change = comms.check(supervised, now)
            if comms.timer.pending:
                self._pending[comms.source.alarm_id] = comms
            if change is not None:
                events.extend(self._changed(comms, change, now))
        return events

    def command(
        self, action: Action | str, alarm_id: str, by: str | None = None, **args: object
    ) -> CommandResult:
        """Apply a person's command; refused with a reason (and no change) when it makes no sense.

        `out_of_service` and `in_service` also take a device id (every rule of that device) or
        a zone id (every rule of its devices, and the zone's own).
        `shelve` needs `duration` (seconds, or a string such as "30m").
        """
        now = Now(self.clock.monotonic(), self.clock.wall_ns())
        if action in (Action.OUT_OF_SERVICE, Action.IN_SERVICE) and self._is_gateways(alarm_id):
            return CommandResult.refused(
                f"{alarm_id} is the gateway's own: its alarms say when history or storage "
                "fails, and cannot be taken out of service"
            )
        result = self._commands.run(action, alarm_id, by, args, now)
        in_publication_order(result.events)
        return result

    def restore(self, alarms: Iterable[Alarm]) -> list[AlarmEvent]:
        """Take back the alarms saved before a restart; call it before the first readings.

        An unacknowledged alarm stays unacknowledged, an acknowledged one is not raised again:
        its condition counts as still present until a reading says otherwise. An alarm whose
        rule is no longer configured has its condition cleared; the events say so.
        """
        now, wall = self.clock.monotonic(), self.clock.wall_ns()
        restored = [r for r in (self._book.restore(a, now, wall) for a in alarms) if r]
        zones = [m for m in self._index.zones if m.source.alarm_id in self._book.records]
        for zone in zones:  # first, so that restoring their members does not raise them again
            zone.timer.force(self._book.records[zone.source.alarm_id].alarm.active)
        events: list[AlarmEvent] = []
        for record in restored:
            events.extend(self._resume(record, now, wall))
        for zone in zones:  # a zone alarm none of whose members is active any more
            change = zone.reconsider(now)
            if change is not None:
                events.extend(self._changed(zone, change, now))
        return in_publication_order(events)

    def _resume(self, record: AlarmRecord, now: float, wall: int) -> list[AlarmEvent]:
        """Let the monitor of a restored alarm start from the condition the alarm had."""
        alarm = record.alarm
        monitor = self._index.monitors.get(alarm.id)
        if monitor is None:
            if is_disablement(alarm.id):
                return []  # its target's out of service came back with it
            return self._book.deactivate(alarm.id, "rule no longer configured", wall)
        if not alarm.active or isinstance(monitor, ZoneMonitor):
            return []
        monitor.timer.force(True)
        return self._notify(monitor, True, now, restoring=True)

    def _changed(self, monitor: Monitor, active: bool, now: float) -> list[AlarmEvent]:
        """A monitor's debounced condition changed: move its alarm, then its zone rules."""
        wall = self.clock.wall_ns()
        source = monitor.source
        if active:
            events = self._book.activate(
                source,
                value=monitor.value,
                observed_at=monitor.observed_at or wall,
                message=monitor.message(),
                cause=monitor.raise_cause(),
                now=now,
                wall=wall,
            )
        else:
            events = self._book.deactivate(source.alarm_id, monitor.clear_cause(), wall, now)
        if monitor.listeners:
            events.extend(self._notify(monitor, active, now))
        return events

    def _notify(
        self, member: Monitor, active: bool, now: float, restoring: bool = False
    ) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        out_of_service = self._book.is_out_of_service(member.source.alarm_id)
        for zone in member.listeners:
            if active and out_of_service and not zone.counts_out_of_service:
                continue  # a detector under test does not confirm a fire
            change = zone.member_changed(member, active, now, restoring)
            if zone.timer.pending:
                self._pending[zone.source.alarm_id] = zone
            if change is not None:
                events.extend(self._changed(zone, change, now))
        return events

    def classes_of(self, target: str) -> frozenset[AlarmClass]:
        """The alarm classes a command on `target` (an alarm, or a device for out of and in
        service) would touch; empty for a target the engine does not know."""
        record = self._book.get(target)
        if record is not None:
            return frozenset({record.alarm.alarm_class})
        if GROUP_MARK in target:
            return frozenset(r.alarm.alarm_class for r in self._book if r.alarm.group == target)
        found = self._lookup(target) or None
        if found is not None:
            return frozenset({found[0].alarm_class})
        alarms = self._device_alarms(target) or []
        return frozenset(source.alarm_class for source, _ in alarms)

    def shelving_again(self, alarm_id: str) -> bool:
        """Whether shelving `alarm_id` now would renew a shelf that ran out only recently
        (within the shelving policy's `cooldown`): that needs a role allowed to re-shelve."""
        record = self._book.get(alarm_id)
        expired = record.shelf_expired_at if record is not None else None
        cooldown = self.rules.shelving.cooldown
        return expired is not None and self.clock.monotonic() - expired < cooldown

    def _is_gateways(self, target: str) -> bool:
        """Whether `target` is the gateway's own device or one of its alarms."""
        record = self._book.get(target)
        device = record.alarm.device if record is not None else None
        if device is None and (found := self._lookup(target)) is not None:
            device = found[0].device
        slot = self._index.devices.get(device or target)
        return slot is not None and slot.info.kind is DeviceKind.GATEWAY

    def _label(self, target: str) -> str:
        slot = self._index.devices.get(target)
        if slot is not None:
            return f"{slot.info.kind.label} {target}"
        return f"Zone {target}" if target in self._zone_ids() else f"Alarm {target}"

    def _device_alarms(self, target: str) -> list[SourceAndMessage] | None:
        """Every rule of one device, or of a whole zone (its devices and the zone's own
        rules, not the links and the gateway that serve other zones too)."""
        slot = self._index.devices.get(target)
        if slot is not None:
            return [(monitor.source, monitor.message()) for monitor in slot.monitors]
        if target not in self._zone_ids():
            return None
        monitors = [
            monitor
            for slot in self._index.devices.values()
            if slot.info.zone == target and slot.info.kind not in _SHARED
            for monitor in slot.monitors
        ]
        monitors += [zone for zone in self._index.zones if zone.source.zone == target]
        return [(monitor.source, monitor.message()) for monitor in monitors]

    def _zone_ids(self) -> set[str]:
        return {slot.info.zone for slot in self._index.devices.values()}

    def _lookup(self, alarm_id: str) -> SourceAndMessage | None:
        monitor = self._index.monitors.get(alarm_id)
        return None if monitor is None else (monitor.source, monitor.message())
