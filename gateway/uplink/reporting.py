"""What the centre is told of each alarm event: the decision, made once per stored event.

A centre wants the beginning and the end of what matters to it, once: an alarm raised, its
condition gone, a latched fire reset by a person. Everything else an alarm goes through
(acknowledged, on site, escalated, shelved) is the building's own business. So the uplink
keeps, per alarm, what the centre has been told (`Told`: nothing, that it is active, that it
restored), and each event moves it on:

- raised, or released by its cause, or back from a shelf or out of service while its
  condition is present: the alarm code, unless the centre already has the alarm active;
  not while the alarm is held by its cause or suppressed (the cause is what is sent; a device
  out of service is sent as the disablement), except a fire, which always goes;
- returned to normal or cleared: the restore code, if the centre has the alarm active;
- reset: the reset code, if the centre was told of the alarm at all.

An alarm of a device kind the uplink does not send (`uplink.kinds`), or of a rule coded `off`,
is never sent.
"""

from __future__ import annotations

from enum import IntEnum

from gateway.alarms import is_gone
from gateway.config import GATEWAY_POINTS, Numbers, Site, Transition, UplinkSettings
from gateway.uplink.codes import CodeBook
from gateway.uplink.messages import Message, plain_text
from rules import Alarm, AlarmClass, AlarmEvent, DeviceKind, EventKind

__all__ = ["Reporter", "Told"]

OTHER_GATEWAY_POINT = 900
"""The point of a gateway trouble `GATEWAY_POINTS` does not name."""

_RAISING = frozenset(
    {EventKind.RAISED, EventKind.RELEASED, EventKind.UNSHELVED, EventKind.IN_SERVICE}
)
_RESTORING = frozenset({EventKind.RETURNED_TO_NORMAL, EventKind.CLEARED})


class Told(IntEnum):
    """What the centre has been told of an alarm (nothing: no entry)."""

    RESTORED = 0
    ACTIVE = 1


class Reporter:
    """Decides, for each alarm event, what the centre is sent (see the module)."""

    def __init__(self, site: Site, settings: UplinkSettings) -> None:
        self.settings = settings
        self.codes = CodeBook(settings.codes)
        self.numbers = Numbers.of(settings, site.config)
        self.gateway = site.config.site.gateway_id
        self._kinds = {device.id: device.kind for device in site.config.devices}
        self._kinds.update(dict.fromkeys(self.numbers.links, DeviceKind.LINK))
        self._kinds[self.gateway] = DeviceKind.GATEWAY
        self._rule_kinds: dict[str, set[DeviceKind]] = {}
        for rule in site.config.rules.rules:
            self._rule_kinds.setdefault(rule.name, set()).add(rule.kind)

    def decide(self, event: AlarmEvent, told: Told | None) -> tuple[Message | None, Told | None]:
        """The message `event` sends (None for none) and what the centre knows after it."""
        alarm = event.alarm
        if not self._sent(alarm):
            return None, None
        transition = self._transition(event, told)
        after = None if is_gone(alarm) else _after(transition, told)
        if transition is None:
            return None, after
        return self._message(alarm, transition, event.at), after

    def snapshot(self, alarm: Alarm) -> list[tuple[Message, Told]]:
        """What a centre that knows nothing yet is sent of an alarm as it is now (the uplink's
        first start, or its queue lost): raised if it is active or a fire not yet reset, and
        restored too if that fire's condition is gone."""
        if not self._sent(alarm) or not _announced(alarm):
            return []
        if not alarm.active and not (alarm.is_fire and alarm.needs_person):
            return []
        raised = self._message(alarm, Transition.RAISED, alarm.raised_at)
        if alarm.active:
            return [(raised, Told.ACTIVE)] if raised is not None else []
        restored = self._message(alarm, Transition.RESTORED, alarm.updated_at)
        return [(m, Told.RESTORED) for m in (raised, restored) if m is not None]

    def _transition(self, event: AlarmEvent, told: Told | None) -> Transition | None:
        alarm = event.alarm
        if event.kind in _RAISING:
            present = alarm.active and _announced(alarm)
            return Transition.RAISED if present and told is not Told.ACTIVE else None
        if event.kind in _RESTORING:
            return Transition.RESTORED if told is Told.ACTIVE else None
        if event.kind is EventKind.RESET:
            return Transition.RESET if told is not None else None
        return None

    def _sent(self, alarm: Alarm) -> bool:
        """Whether the centre hears of this alarm at all: its kind and its rule."""
        if self.codes.of(alarm.rule, alarm.alarm_class) is None:
            return False
        kinds = self._kinds_of(alarm)
        return not kinds or any(kind in self.settings.kinds for kind in kinds)

    def _kinds_of(self, alarm: Alarm) -> set[DeviceKind]:
        """The device kind of the alarm; a zone's alarm has its rule's (a zone out of service,
        none: it is sent)."""
        if alarm.device is not None and alarm.device in self._kinds:
            return {self._kinds[alarm.device]}
        return self._rule_kinds.get(alarm.rule, set())

    def _message(self, alarm: Alarm, transition: Transition, at: int) -> Message | None:
        codes = self.codes.of(alarm.rule, alarm.alarm_class)
        code = codes.code(transition) if codes is not None else None
        if code is None:
            return None
        zone, point = self._where(alarm)
        return Message(
            alarm_id=alarm.id,
            transition=transition,
            account=self.settings.account_of(alarm.building),
            zone=zone,
            point=point,
            sia=code[0],
            contact_id=code[1],
            text=plain_text(f"{alarm.message} ({alarm.id})"),
            occurred_at=at,
            rank=alarm.alarm_class.rank,
        )

    def _where(self, alarm: Alarm) -> tuple[int, int]:
        """The alarm's zone and point numbers (gateway.config.uplink's `Numbers`)."""
        device = alarm.device
        if device == self.gateway:
            return 0, GATEWAY_POINTS.get(alarm.rule, OTHER_GATEWAY_POINT)
        if device is not None and device in self.numbers.links:
            return 0, self.numbers.links[device]
        zone = self.numbers.zones.get(alarm.zone, 0)
        return zone, self.numbers.points.get(device, 0) if device is not None else 0


def _announced(alarm: Alarm) -> bool:
    """Whether the alarm stands for itself now: not held by its cause nor suppressed; a fire
    always does."""
    if alarm.alarm_class is AlarmClass.FIRE:
        return True
    return alarm.held_by is None and not alarm.suppressed


def _after(transition: Transition | None, told: Told | None) -> Told | None:
    if transition is Transition.RAISED:
        return Told.ACTIVE
    if transition is Transition.RESTORED:
        return Told.RESTORED
    if transition is Transition.RESET:
        return None
    return told
