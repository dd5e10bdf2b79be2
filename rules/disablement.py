"""Out of service made visible: while a device, a zone or one alarm is out of service, a trouble
alarm `out_of_service:<target>` says so on the feed, and clears when the target is back in
service.

A disablement is itself an alarm (ISA-18.2: a suppressed alarm must stay visible): the
security office sees that a detector is not protecting its zone right now, who took it out and
for how long. It is raised already acknowledged by the person who took the device out (they
know; nobody needs to be alerted), and cleared when the device is back: acknowledged by the
person who put it back, or, when its time ran out, returned to normal for someone to note.
"""

from __future__ import annotations

from rules.alarm import AlarmSource
from rules.events import AlarmEvent, EventKind
from rules.lifecycle import AlarmBook, duration_text
from rules.model import AlarmClass, AlarmState, Priority

__all__ = ["RULE", "disable", "enable_where_done", "is_disablement"]

RULE = "out_of_service"


def is_disablement(alarm_id: str) -> bool:
    return alarm_id.startswith(f"{RULE}:")


def disable(
    book: AlarmBook,
    target: str,
    label: str,
    like: AlarmSource,
    *,
    seconds: float,
    by: str,
    now: float,
    wall: int,
) -> list[AlarmEvent]:
    """Raise the disablement alarm of `target` (`label` is how the message names it)."""
    source = AlarmSource(
        alarm_id=f"{RULE}:{target}",
        rule=RULE,
        alarm_class=AlarmClass.TROUBLE,
        priority=Priority.MEDIUM,
        latched=False,
        building=like.building,
        zone=like.zone,
        device=like.device,
    )
    message = (
        f"{label} out of service for {duration_text(seconds)} (by {by}): its alarms are held "
        "back; a fire still reaches the feed"
    )
    record = book.ensure(source, message, now, wall)
    alarm = record.alarm
    alarm.active, alarm.message, alarm.raised_at, alarm.observed_at = True, message, wall, wall
    alarm.state, alarm.acknowledged_by, alarm.acknowledged_at = AlarmState.ACKNOWLEDGED, by, wall
    return [book.emit(record, EventKind.RAISED, f"{label} taken out of service", wall, by)]


def enable_where_done(
    book: AlarmBook, cause: str, wall: int, by: str | None = None
) -> list[AlarmEvent]:
    """Clear every disablement alarm whose target (an alarm, a device or a zone) has nothing
    out of service any more; `by` is the person who put it back (who thereby acknowledges it)."""
    held = {
        name
        for record in book
        if record.alarm.out_of_service
        for name in (record.alarm.id, record.alarm.device, record.alarm.zone)
        if name is not None
    }
    events: list[AlarmEvent] = []
    for record in book:
        alarm = record.alarm
        if is_disablement(alarm.id) and alarm.active and alarm.id.split(":", 1)[1] not in held:
            if by is not None and alarm.state is AlarmState.UNACKNOWLEDGED:
                alarm.state, alarm.acknowledged_by, alarm.acknowledged_at = (
                    AlarmState.ACKNOWLEDGED,
                    by,
                    wall,
                )
            events.extend(book.deactivate(alarm.id, cause, wall))
    return events
