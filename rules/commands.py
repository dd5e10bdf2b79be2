"""What people do to alarms: acknowledge, mark on site, reset, shelve, take out of service.

A command names who sent it. One that makes no sense is refused with a reason and changes
nothing, so a reply topic can tell the sender exactly why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from rules.alarm import AlarmSource
from rules.disablement import disable, enable_where_done, is_disablement
from rules.events import AlarmEvent, EventKind
from rules.lifecycle import AlarmBook, AlarmRecord
from rules.model import AlarmState
from rules.specs import parse_duration


class Action(StrEnum):
    """The commands a person can give."""

    ACKNOWLEDGE = "acknowledge"
    ON_SITE = "on_site"
    RESET = "reset"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    OUT_OF_SERVICE = "out_of_service"
    IN_SERVICE = "in_service"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """Whether a command was applied; if not, why; if so, the events it caused."""

    ok: bool
    reason: str | None = None
    events: list[AlarmEvent] = field(default_factory=list)

    @classmethod
    def refused(cls, reason: str) -> CommandResult:
        return cls(ok=False, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        """For a command's reply: ok, reason and the ids and kinds of the events."""
        events = [{"alarm_id": e.alarm_id, "kind": str(e.kind)} for e in self.events]
        return {"ok": self.ok, "reason": self.reason, "events": events}


@dataclass(frozen=True, slots=True)
class Now:
    """One reading of both clocks, taken once per command."""

    monotonic: float
    wall: int


SourceAndMessage = tuple[AlarmSource, str]
DeviceAlarms = Callable[[str], list[SourceAndMessage] | None]
"""Device or zone id -> (alarm source, message) of every rule on it, or None if unknown."""
AlarmLookup = Callable[[str], SourceAndMessage | None]
"""Alarm id -> its source and message if a configured rule raises it (it may be normal now)."""
Label = Callable[[str], str]
"""A device, zone or alarm id -> how a message names it ("Smoke detector SD-1", "Zone er")."""

GROUP_MARK = "@"
"""A command's target with this in it names a group of alarms, not one alarm."""
_WAITING = (AlarmState.UNACKNOWLEDGED, AlarmState.RETURNED_UNACKNOWLEDGED)
_ARGUMENTS = {
    Action.SHELVE: frozenset({"duration"}),
    Action.OUT_OF_SERVICE: frozenset({"duration"}),
}


class Commands:
    """Applies commands to the alarm book."""

    def __init__(
        self, book: AlarmBook, device_alarms: DeviceAlarms, lookup: AlarmLookup, label: Label
    ) -> None:
        self.book = book
        self.device_alarms = device_alarms
        self.lookup = lookup
        self.label = label

    def run(
        self, action: Action | str, alarm_id: str, by: str | None, args: Mapping[str, Any], now: Now
    ) -> CommandResult:
        """Check the command as a whole, then apply it; never half-applied."""
        try:
            action = Action(action)
        except ValueError:
            return CommandResult.refused(
                f"unknown action {action!r}; expected one of {', '.join(Action)}"
            )
        problem = _check_common(action, by, args)
        if problem is not None:
            return CommandResult.refused(problem)
        who = (by or "").strip()
        if GROUP_MARK in alarm_id:
            return self._group(action, alarm_id, who, now)
        record = self.book.get(alarm_id)
        if record is None:
            return self._without_record(action, alarm_id, who, args, now)
        return _HANDLERS[action](self, record, who, args, now)

    def _without_record(
        self, action: Action, target: str, by: str, args: Mapping[str, Any], now: Now
    ) -> CommandResult:
        """A device or zone (for out of / in service), an alarm that is normal now, or unknown."""
        if action in (Action.OUT_OF_SERVICE, Action.IN_SERVICE):
            alarms = self.device_alarms(target)
            if alarms is not None and action is Action.OUT_OF_SERVICE:
                return self._device_out(target, alarms, by, args, now)
            if alarms is not None:
                return self._device_back(target, alarms, by, now)
        found = self.lookup(target)
        if found is None:
            return CommandResult.refused(f"unknown alarm {target}")
        if action is Action.OUT_OF_SERVICE:
            return self._alarm_out_of_service(
                self.book.ensure(*found, now.monotonic, now.wall), by, args, now
            )
        return CommandResult.refused(_nothing_to_do(target, action))

    def acknowledge(
        self, record: AlarmRecord, by: str, args: Mapping[str, Any], now: Now
    ) -> CommandResult:
        alarm = record.alarm
        if alarm.state is AlarmState.ACKNOWLEDGED:
            return CommandResult.refused(
                f"alarm {alarm.id} is already acknowledged (by {alarm.acknowledged_by})"
            )
        if alarm.state is AlarmState.NORMAL:
            return CommandResult.refused(_nothing_to_do(alarm.id, Action.ACKNOWLEDGE))
        return CommandResult(True, events=[self._acknowledge(record, by, now)])

    def _acknowledge(self, record: AlarmRecord, by: str, now: Now) -> AlarmEvent:
        alarm = record.alarm
        alarm.acknowledged_by, alarm.acknowledged_at = by, now.wall
        returned = alarm.state is AlarmState.RETURNED_UNACKNOWLEDGED
        alarm.state = AlarmState.NORMAL if returned else AlarmState.ACKNOWLEDGED
        cause = "acknowledged after the condition had gone" if returned else "acknowledged"
        event = self.book.emit(record, EventKind.ACKNOWLEDGED, cause, now.wall, by)
        self.book.drop_if_done(record)
        return event

    def on_site(
        self, record: AlarmRecord, by: str, args: Mapping[str, Any], now: Now
    ) -> CommandResult:
        """Someone is at the device; being there also acknowledges the alarm."""
        alarm = record.alarm
        if alarm.on_site_by is not None:
            return CommandResult.refused(
                f"alarm {alarm.id} is already marked on site (by {alarm.on_site_by})"
            )
        if alarm.state is AlarmState.NORMAL:
            return CommandResult.refused(_nothing_to_do(alarm.id, Action.ON_SITE))
        alarm.on_site_by, alarm.on_site_at = by, now.wall
        events = [self.book.emit(record, EventKind.ON_SITE, "marked on site", now.wall, by)]
        if alarm.state is not AlarmState.ACKNOWLEDGED:
            events.append(self._acknowledge(record, by, now))
        return CommandResult(True, events=events)

    def reset(
        self, record: AlarmRecord, by: str, args: Mapping[str, Any], now: Now
    ) -> CommandResult:
        alarm = record.alarm
        if not alarm.latched:
            return CommandResult.refused(
                f"alarm {alarm.id} is not latched; it clears by itself when its condition does"
            )
        if alarm.active:
            return CommandResult.refused(
                f"alarm {alarm.id} cannot be reset while its condition is still present"
            )
        if alarm.state is AlarmState.NORMAL:
            return CommandResult.refused(_nothing_to_do(alarm.id, Action.RESET))
        if alarm.acknowledged_by is None:
            alarm.acknowledged_by, alarm.acknowledged_at = by, now.wall
        alarm.state = AlarmState.NORMAL
        event = self.book.emit(record, EventKind.RESET, "reset by a person", now.wall, by)
        self.book.drop_if_done(record)
        return CommandResult(True, events=[event])

    def shelve(
        self, record: AlarmRecord, by: str, args: Mapping[str, Any], now: Now
    ) -> CommandResult:
        alarm, policy = record.alarm, self.book.rules.shelving
        if alarm.alarm_class in policy.never:
            return CommandResult.refused(
                f"alarm {alarm.id} is a {alarm.alarm_class} alarm and cannot be shelved; "
                "take the device out of service instead"
            )
        if alarm.shelved:
            return CommandResult.refused(
                f"alarm {alarm.id} is already shelved (by {alarm.shelved_by})"
            )
        seconds = _shelving_time(args.get("duration"), policy.max_duration)
        if isinstance(seconds, str):
            return CommandResult.refused(seconds)
        alarm.shelved_by, alarm.shelved_until = by, now.wall + round(seconds * 1e9)
        record.shelf_expiry = now.monotonic + seconds
        cause = f"shelved for {seconds:g} s"
        event = self.book.emit(record, EventKind.SHELVED, cause, now.wall, by)
        return CommandResult(True, events=[event])

    def unshelve(
        self, record: AlarmRecord, by: str, args: Mapping[str, Any], now: Now
    ) -> CommandResult:
        if not record.alarm.shelved:
            return CommandResult.refused(f"alarm {record.alarm.id} is not shelved")
        events = self.book.unshelve(record, "unshelved by a person", now.monotonic, now.wall, by)
        return CommandResult(True, events=events)

    def out_of_service(
        self, record: AlarmRecord, by: str, args: Mapping[str, Any], now: Now
    ) -> CommandResult:
        if record.alarm.out_of_service:
            return CommandResult.refused(f"alarm {record.alarm.id} is already out of service")
        if is_disablement(record.alarm.id):
            return CommandResult.refused(
                f"alarm {record.alarm.id} says a device is out of service; put the device back "
                "in service instead"
            )
        return self._alarm_out_of_service(record, by, args, now)

    def in_service(
        self, record: AlarmRecord, by: str, args: Mapping[str, Any], now: Now
    ) -> CommandResult:
        if not record.alarm.out_of_service:
            return CommandResult.refused(f"alarm {record.alarm.id} is not out of service")
        events = [
            self.book.return_to_service(record, "returned to service", now.monotonic, now.wall, by)
        ]
        events += enable_where_done(self.book, "returned to service", now.wall)
        return CommandResult(True, events=events)

    def _group(self, action: Action, group: str, by: str, now: Now) -> CommandResult:
        """Acknowledge every alarm of one incident (`fire@opd-1f-er`, `trouble@opd-panel`)
        with one command; each acknowledgement is its own event."""
        if action is not Action.ACKNOWLEDGE:
            return CommandResult.refused(f"a group ({group}) can only be acknowledged as a whole")
        waiting = [
            record
            for record in self.book
            if record.alarm.group == group and record.alarm.state in _WAITING
        ]
        if not waiting:
            return CommandResult.refused(f"nothing in group {group} waits for an acknowledgement")
        return CommandResult(True, events=[self._acknowledge(r, by, now) for r in waiting])

    def _alarm_out_of_service(
        self, record: AlarmRecord, by: str, args: Mapping[str, Any], now: Now
    ) -> CommandResult:
        """One alarm out of service, with its own disablement alarm."""
        seconds = self._service_time(args)
        if isinstance(seconds, str):
            return CommandResult.refused(seconds)
        events = [self.book.take_out_of_service(record, seconds, by, now.monotonic, now.wall)]
        alarm = record.alarm
        events += disable(
            self.book,
            alarm.id,
            f"Alarm {alarm.id}",
            _source_of(record),
            seconds=seconds,
            by=by,
            now=now.monotonic,
            wall=now.wall,
        )
        return CommandResult(True, events=events)

    def _device_out(
        self,
        device: str,
        alarms: list[SourceAndMessage],
        by: str,
        args: Mapping[str, Any],
        now: Now,
    ) -> CommandResult:
        """Out of service for every rule of one device (or zone) under maintenance."""
        seconds = self._service_time(args)
        if isinstance(seconds, str):
            return CommandResult.refused(seconds)
        events = []
        for source, message in alarms:
            record = self.book.get(source.alarm_id)
            if record is None or not record.alarm.out_of_service:
                record = self.book.ensure(source, message, now.monotonic, now.wall)
                events.append(
                    self.book.take_out_of_service(record, seconds, by, now.monotonic, now.wall)
                )
        if not events:
            return CommandResult.refused(f"{self.label(device)} is already out of service")
        like = alarms[0][0]
        if like.device != device:  # a zone: its disablement is the zone's, not one device's
            like = replace(like, device=None)
        events += disable(
            self.book,
            device,
            self.label(device),
            like,
            seconds=seconds,
            by=by,
            now=now.monotonic,
            wall=now.wall,
        )
        return CommandResult(True, events=events)

    def _device_back(
        self, device: str, alarms: list[SourceAndMessage], by: str, now: Now
    ) -> CommandResult:
        events = []
        for source, _ in alarms:
            record = self.book.get(source.alarm_id)
            if record is not None and record.alarm.out_of_service:
                cause = "returned to service"
                events.append(
                    self.book.return_to_service(record, cause, now.monotonic, now.wall, by)
                )
        if not events:
            return CommandResult.refused(f"{self.label(device)} is not out of service")
        events += enable_where_done(self.book, "returned to service", now.wall)
        return CommandResult(True, events=events)

    def _service_time(self, args: Mapping[str, Any]) -> float | str:
        """Out of service for `duration`, at most the policy's maximum (the default)."""
        maximum = self.book.rules.out_of_service.max_duration
        duration = args.get("duration", maximum)
        return _limited_time("out of service", duration, maximum)


Handler = Callable[[Commands, AlarmRecord, str, Mapping[str, Any], Now], CommandResult]
_HANDLERS: dict[Action, Handler] = {
    Action.ACKNOWLEDGE: Commands.acknowledge,
    Action.ON_SITE: Commands.on_site,
    Action.RESET: Commands.reset,
    Action.SHELVE: Commands.shelve,
    Action.UNSHELVE: Commands.unshelve,
    Action.OUT_OF_SERVICE: Commands.out_of_service,
    Action.IN_SERVICE: Commands.in_service,
}


def _check_common(action: Action, by: str | None, args: Mapping[str, Any]) -> str | None:
    if not isinstance(by, str) or not by.strip():
        return "a command must say who sent it (by)"
    unexpected = sorted(set(args) - _ARGUMENTS.get(action, frozenset()))
    if unexpected:
        return f"{action} takes no argument {', '.join(unexpected)}"
    return None


def _shelving_time(duration: Any, maximum: float) -> float | str:
    """The shelving time in seconds, or the reason it is refused."""
    if duration is None:
        return f"shelving needs a duration, at most {maximum:g} s"
    return _limited_time("shelving", duration, maximum)


def _limited_time(what: str, duration: Any, maximum: float) -> float | str:
    """A duration in seconds, more than 0 and at most `maximum`, or the reason it is refused."""
    try:
        seconds = float(parse_duration(duration))
    except ValueError:
        return f"{what} duration {duration!r} is not a duration such as 30m or 900"
    if not math.isfinite(seconds) or seconds <= 0:
        return f"{what} duration must be more than 0 s, got {duration!r}"
    if seconds > maximum:
        return f"{what} for {seconds:g} s exceeds the maximum of {maximum:g} s"
    return seconds


def _nothing_to_do(alarm_id: str, action: Action) -> str:
    """The reason for a command on an alarm that is normal (and so has no record)."""
    if action is Action.UNSHELVE:
        return f"alarm {alarm_id} is not shelved"
    if action is Action.IN_SERVICE:
        return f"alarm {alarm_id} is not out of service"
    verb = "mark on site" if action is Action.ON_SITE else str(action)
    return f"alarm {alarm_id} is normal; there is nothing to {verb}"


def _source_of(record: AlarmRecord) -> AlarmSource:
    alarm = record.alarm
    return AlarmSource(
        alarm.id,
        alarm.rule,
        alarm.alarm_class,
        alarm.priority,
        alarm.latched,
        alarm.building,
        alarm.zone,
        alarm.device,
    )
