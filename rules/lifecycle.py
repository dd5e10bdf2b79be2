"""The alarm state machine after ISA-18.2 / IEC 62682: what a condition change does to an alarm.

```
             condition                      acknowledge
   normal ----------------> unacknowledged ------------> acknowledged
     ^                           |                          |
     |  acknowledge              | condition gone           | condition gone
     |                           v                          v
     +----------- returned_unacknowledged                 normal (cleared)
```

Latched alarms (fire) ignore "condition gone": they stay unacknowledged or acknowledged until
a person resets them, and a reset is refused while the condition is still present. Shelved
and out-of-service alarms are suppressed: their automatic transitions are not published. Out
of service also holds the state still; returning to service (by a person, or when its time
is up) brings it in line with the condition. A fire alarm is the exception: out of service
never silences it (its transitions are published, marked out of service), and it cannot be
shelved at all. One alarm per condition: only a change of the condition does anything.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from core import Value
from rules.alarm import Alarm, AlarmSource, own_group
from rules.escalation import escalations_due
from rules.events import AlarmEvent, EventKind
from rules.model import AlarmState
from rules.ruleset import RuleSet

_NORMAL = AlarmState.NORMAL
_UNACK = AlarmState.UNACKNOWLEDGED
_ACK = AlarmState.ACKNOWLEDGED
_RETURNED = AlarmState.RETURNED_UNACKNOWLEDGED

SETTLE = 10.0
"""Seconds a consequence is given, after its cause ends, to end too (devices behind a link
that is back answer at their next poll) before it stands on its own."""


@dataclass(slots=True)
class AlarmRecord:
    """An alarm plus the monotonic times the engine needs for escalation, shelving, staleness."""

    alarm: Alarm
    announced: float
    """When the alarm was last put in front of people: escalation counts from here."""
    active_since: float
    shelf_expiry: float | None = None
    shelf_expired_at: float | None = None
    """When its last shelf ran out: shelving it again soon after is a re-shelve."""
    service_expiry: float | None = None
    """When its out of service ends by itself."""
    release_at: float | None = None
    """When a held alarm whose cause has ended stands on its own, if it is still present."""


class _History:
    """Activations of one alarm id, kept across episodes so chattering spans them."""

    __slots__ = ("chattering", "count", "times")

    def __init__(self, keep: int) -> None:
        self.count = 0
        self.times: deque[float] = deque(maxlen=keep)
        self.chattering = False


class AlarmBook:
    """Every alarm that is not plain normal, and the transitions between states."""

    def __init__(self, rules: RuleSet, causes: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.rules = rules
        self.records: dict[str, AlarmRecord] = {}
        self._history: dict[str, _History] = {}
        self.causes = dict(causes or {})
        """Alarm id -> the alarms that, while active, make it their consequence."""
        self.consequences: dict[str, list[str]] = defaultdict(list)
        for alarm_id, its_causes in self.causes.items():
            for cause in its_causes:
                self.consequences[cause].append(alarm_id)

    def __iter__(self) -> Iterator[AlarmRecord]:
        return iter(list(self.records.values()))

    def get(self, alarm_id: str) -> AlarmRecord | None:
        return self.records.get(alarm_id)

    def is_out_of_service(self, alarm_id: str) -> bool:
        record = self.records.get(alarm_id)
        return record is not None and record.alarm.out_of_service

    def activate(
        self,
        source: AlarmSource,
        *,
        value: Value | None,
        observed_at: int,
        message: str,
        cause: str,
        now: float,
        wall: int,
    ) -> list[AlarmEvent]:
        """The condition became present (after its on-delay)."""
        record = self.records.get(source.alarm_id) or self.ensure(source, message, now, wall)
        alarm = record.alarm
        if alarm.active:
            return []  # restored after a restart, or already active: nothing changes
        alarm.active = True
        alarm.value, alarm.observed_at, alarm.message = value, observed_at, message
        record.active_since = now
        newly_chattering = self._count_activation(alarm, now)
        if alarm.out_of_service:
            if alarm.suppressed:
                return []
            cause = f"{cause} (device out of service: a fire is never held back)"
        held = self.active_cause(alarm.id) if not alarm.is_fire else None
        if held is not None:
            self._hold(record, held)
            cause = f"{cause} (held back: {held} is the cause)"
        events = [self._raise(record, cause, now, wall)]
        if newly_chattering:
            cause = f"{alarm.activations} activations, {self._chatter_text()}"
            events.append(self.emit(record, EventKind.CHATTERING, cause, wall))
        return self._automatic(record, events) + self._hold_consequences(alarm.id, wall)

    def deactivate(
        self, alarm_id: str, cause: str, wall: int, now: float | None = None
    ) -> list[AlarmEvent]:
        """The condition is gone (after its off-delay)."""
        record = self.records.get(alarm_id)
        if record is None or not record.alarm.active:
            return []
        alarm = record.alarm
        alarm.active = alarm.stale = False
        released = self._release_consequences(alarm_id, now, wall)
        if alarm.out_of_service and alarm.suppressed:
            return released
        event = self._return(record, cause, wall)
        return self._automatic(record, [event] if event else []) + released

    def active_cause(self, alarm_id: str) -> str | None:
        """The first of `alarm_id`'s causes that is active now, if any."""
        for cause in self.causes.get(alarm_id, ()):
            record = self.records.get(cause)
            if record is not None and record.alarm.active:
                return cause
        return None

    def _hold(self, record: AlarmRecord, cause: str) -> None:
        alarm = record.alarm
        alarm.held_by = cause
        alarm.group = self.records[cause].alarm.group

    def _hold_consequences(self, cause: str, wall: int) -> list[AlarmEvent]:
        """A cause became active: its consequences that are already on the feed are held."""
        events = []
        for alarm_id in self.consequences.get(cause, ()):
            record = self.records.get(alarm_id)
            if record is not None and record.alarm.held_by == cause:
                record.release_at = None  # its cause is back before it was released
            if record is None or not record.alarm.active or record.alarm.held_by is not None:
                continue
            if record.alarm.is_fire:
                continue  # never: a fire is never held back
            self._hold(record, cause)
            event = self.emit(record, EventKind.HELD, f"held back: {cause} is the cause", wall)
            events += self._automatic(record, [event])
        return events

    def _release_consequences(self, cause: str, now: float | None, wall: int) -> list[AlarmEvent]:
        """A cause ended: its consequences get `SETTLE` seconds to end too (see `tick`)."""
        for alarm_id in self.consequences.get(cause, ()):
            record = self.records.get(alarm_id)
            if record is not None and record.alarm.held_by == cause:
                record.release_at = (now if now is not None else 0.0) + SETTLE
        return []

    def _settle_consequences(self, now: float, wall: int) -> list[AlarmEvent]:
        """Each held alarm whose cause ended `SETTLE` seconds ago stands on its own if still
        present, goes with its cause if not, or follows another cause that is active."""
        events: list[AlarmEvent] = []
        for record in self:
            if record.release_at is None or now < record.release_at:
                continue
            record.release_at = None
            cause, other = record.alarm.held_by or "", self.active_cause(record.alarm.id)
            if other is not None:
                self._hold(record, other)
                continue
            events += self._automatic(record, [self._release(record, cause, now, wall)])
        return events

    def _release(self, record: AlarmRecord, cause: str, now: float | None, wall: int) -> AlarmEvent:
        alarm = record.alarm
        alarm.held_by = None
        alarm.group = own_group(alarm.alarm_class, alarm.zone, alarm.device or alarm.id)
        if not alarm.active:
            alarm.state = _NORMAL
            return self.emit(record, EventKind.CLEARED, f"gone with its cause {cause}", wall)
        if alarm.state is not _ACK:
            alarm.state = _UNACK
            if now is not None:
                record.announced = now
        return self.emit(record, EventKind.RELEASED, f"still present after {cause} ended", wall)

    def ensure(self, source: AlarmSource, message: str, now: float, wall: int) -> AlarmRecord:
        """The record of `source`'s alarm, created normal if there is none."""
        record = self.records.get(source.alarm_id)
        if record is None:
            alarm = Alarm.from_source(source, message, wall)
            alarm.activations = self._history_of(alarm.id).count
            record = self.records[alarm.id] = AlarmRecord(alarm, now, now)
        return record

    def restore(self, alarm: Alarm, now: float, wall: int) -> AlarmRecord | None:
        """Take back an alarm saved before a restart; None if there is nothing to keep.

        Escalation and shelving deadlines are carried over using the wall clock (the only clock
        that survives a restart); from then on they run on the monotonic clock again.
        """
        if alarm.id in self.records or not (alarm.state is not _NORMAL or alarm.kept):
            return None
        alarm = alarm.snapshot()
        age = max(0.0, (wall - alarm.raised_at) / 1e9)
        record = AlarmRecord(alarm, announced=now - age, active_since=now - age)
        if alarm.shelved_until is not None:
            record.shelf_expiry = now + (alarm.shelved_until - wall) / 1e9
        if alarm.out_of_service_until is not None:
            record.service_expiry = now + (alarm.out_of_service_until - wall) / 1e9
        self._history_of(alarm.id).count = alarm.activations
        self.records[alarm.id] = record
        return record

    def tick(self, now: float, wall: int) -> list[AlarmEvent]:
        """Shelving expiry, escalation and staleness: the transitions time alone causes."""
        events: list[AlarmEvent] = []
        for record in self:
            if record.shelf_expiry is not None and now >= record.shelf_expiry:
                record.shelf_expired_at = now
                events.extend(self.unshelve(record, "shelving expired", now, wall, None))
            if record.service_expiry is not None and now >= record.service_expiry:
                events.append(self.return_to_service(record, "out of service expired", now, wall))
            for level, cause in escalations_due(record, self.rules.escalation, now):
                record.alarm.escalation_level = level
                events.append(self.emit(record, EventKind.ESCALATED, cause, wall))
            events.extend(self._check_stale(record, now, wall))
        return events + self._settle_consequences(now, wall)

    def _check_stale(self, record: AlarmRecord, now: float, wall: int) -> list[AlarmEvent]:
        """ISA-18.2: an alarm continuously active for more than a day is stale."""
        alarm, limit = record.alarm, self.rules.stale_after
        if not alarm.active or alarm.stale or now - record.active_since < limit:
            return []
        alarm.stale = True
        event = self.emit(record, EventKind.STALE, f"active for more than {limit:g} s", wall)
        return self._automatic(record, [event])

    def unshelve(
        self, record: AlarmRecord, cause: str, now: float, wall: int, by: str | None
    ) -> list[AlarmEvent]:
        """End shelving; an alarm raised while shelved is announced now."""
        alarm = record.alarm
        alarm.shelved_by = alarm.shelved_until = record.shelf_expiry = None
        if alarm.state is _UNACK:
            record.announced = now
        event = self.emit(record, EventKind.UNSHELVED, cause, wall, by)
        self.drop_if_done(record)
        return [event]

    def take_out_of_service(
        self, record: AlarmRecord, seconds: float, by: str, now: float, wall: int
    ) -> AlarmEvent:
        """Hold the alarm back for `seconds` (a fire is still announced); always expires."""
        alarm = record.alarm
        alarm.out_of_service, alarm.out_of_service_by = True, by
        alarm.out_of_service_until = wall + round(seconds * 1e9)
        record.service_expiry = now + seconds
        cause = f"taken out of service for {duration_text(seconds)}"
        return self.emit(record, EventKind.OUT_OF_SERVICE, cause, wall, by)

    def return_to_service(
        self, record: AlarmRecord, cause: str, now: float, wall: int, by: str | None = None
    ) -> AlarmEvent:
        """End out of service, by a person or because its time is up."""
        alarm = record.alarm
        alarm.out_of_service, alarm.out_of_service_by = False, None
        alarm.out_of_service_until = record.service_expiry = None
        self.settle(record, now, wall)
        event = self.emit(record, EventKind.IN_SERVICE, cause, wall, by)
        self.drop_if_done(record)
        return event

    def settle(self, record: AlarmRecord, now: float, wall: int) -> None:
        """Bring the state in line with the condition, silently (after returning to service)."""
        alarm = record.alarm
        if alarm.active and alarm.state in (_NORMAL, _RETURNED):
            if alarm.state is _NORMAL:
                self._new_episode(record, now, wall)
            alarm.state = _UNACK
            record.announced = now
        elif not alarm.active and not alarm.latched:
            if alarm.state is _UNACK:
                alarm.state = _RETURNED
            elif alarm.state is _ACK:
                alarm.state = _NORMAL

    def emit(
        self, record: AlarmRecord, kind: EventKind, cause: str, wall: int, by: str | None = None
    ) -> AlarmEvent:
        """An event for a transition that has just been applied to `record`."""
        alarm = record.alarm
        alarm.updated_at = wall
        return AlarmEvent(alarm.id, kind, wall, cause, alarm.snapshot(), by)

    def drop_if_done(self, record: AlarmRecord) -> None:
        """Forget an alarm that is normal and neither shelved nor out of service."""
        alarm = record.alarm
        if alarm.state is _NORMAL and not alarm.active and not alarm.kept:
            self.records.pop(alarm.id, None)

    def _raise(self, record: AlarmRecord, cause: str, now: float, wall: int) -> AlarmEvent:
        alarm = record.alarm
        if alarm.state in (_NORMAL, _ACK):
            self._new_episode(record, now, wall)
        alarm.state = _UNACK
        return self.emit(record, EventKind.RAISED, cause, wall)

    def _new_episode(self, record: AlarmRecord, now: float, wall: int) -> None:
        """A fresh activation after the last one was acknowledged: start the response again."""
        alarm = record.alarm
        alarm.raised_at = wall
        alarm.acknowledged_by = alarm.acknowledged_at = None
        alarm.on_site_by = alarm.on_site_at = None
        alarm.escalation_level = 0
        record.announced = now

    def _return(self, record: AlarmRecord, cause: str, wall: int) -> AlarmEvent | None:
        alarm = record.alarm
        if alarm.state not in (_UNACK, _ACK):
            return None
        if alarm.latched:
            cause = f"{cause}; latched until reset"
            return self.emit(record, EventKind.RETURNED_TO_NORMAL, cause, wall)
        if alarm.state is _UNACK:
            alarm.state = _RETURNED
            return self.emit(record, EventKind.RETURNED_TO_NORMAL, cause, wall)
        alarm.state = _NORMAL
        return self.emit(record, EventKind.CLEARED, cause, wall)

    def _automatic(self, record: AlarmRecord, events: list[AlarmEvent]) -> list[AlarmEvent]:
        """Events nobody asked for are not published while the alarm is suppressed."""
        self.drop_if_done(record)
        return [] if record.alarm.suppressed else events

    def _count_activation(self, alarm: Alarm, now: float) -> bool:
        """Count one activation; True when the alarm has just started chattering."""
        history = self._history_of(alarm.id)
        history.count += 1
        history.times.append(now)
        times = history.times
        policy = self.rules.chattering
        chattering = len(times) == times.maxlen and now - times[0] <= policy.window
        started = chattering and not history.chattering
        history.chattering = alarm.chattering = chattering
        alarm.activations = history.count
        return started

    def _history_of(self, alarm_id: str) -> _History:
        history = self._history.get(alarm_id)
        if history is None:
            history = self._history[alarm_id] = _History(self.rules.chattering.activations)
        return history

    def _chatter_text(self) -> str:
        policy = self.rules.chattering
        return f"{policy.activations} or more within {policy.window:g} s"


def duration_text(seconds: float) -> str:
    """A duration as a person says it: "45 min", "8 h", "1.5 h"."""
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"
