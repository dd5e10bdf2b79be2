"""Alarm events as InfluxDB line protocol, for the history and the yearly safety report.

Measurement `alarm_event`; tags site, building, zone, risk (the zone's risk level), device,
rule, class, priority (the dimensions a report groups by); fields alarm_id, kind, state,
message, cause, by, escalation_level, the value, and the alarm's flags after the event that
the safety report (`firegw report`) rebuilds each activation from: active, latched, held_by,
shelved, out_of_service and raised_at, and since_raised (seconds from raised_at to the event:
a dashboard's time to acknowledge, with no arithmetic across points). The timestamp is the
event's own time.

`risk` is a tag so that a dashboard or a query without the site file can pick the high-risk
zones, and so that the history keeps the risk a zone had when the alarm happened. A value is
written as
`value` (float) when it is a number and as `value_text` (string) otherwise, because an InfluxDB
field keeps one type per shard and a detector's status and a hydrant's pressure share this
measurement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from core import Value
from rules import AlarmEvent

MEASUREMENT = "alarm_event"

_TAG_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", "\n": " ", "\r": " ", "\t": " "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": " ", "\r": " "})


def event_line(event: AlarmEvent, site: str, at: int | None = None, risk: str | None = None) -> str:
    """One line for one event; `at` overrides the timestamp (see `EventLines`); `risk` is the
    risk level of the alarm's zone."""
    alarm = event.alarm
    tags = {
        "site": site,
        "building": alarm.building,
        "zone": alarm.zone,
        "risk": risk or "",
        "device": alarm.device or "",
        "rule": alarm.rule,
        "class": str(alarm.alarm_class),
        "priority": str(alarm.priority),
    }
    tag_text = "".join(
        f",{key}={escape_tag(value)}" for key, value in sorted(tags.items()) if value
    )
    fields = ",".join(f"{key}={text}" for key, text in _fields(event).items())
    return f"{MEASUREMENT}{tag_text} {fields} {event.at if at is None else at}"


def _fields(event: AlarmEvent) -> Mapping[str, str]:
    alarm = event.alarm
    fields = {
        "alarm_id": string_field(event.alarm_id),
        "kind": string_field(str(event.kind)),
        "state": string_field(str(alarm.state)),
        "message": string_field(alarm.message),
        "cause": string_field(event.cause),
        "escalation_level": f"{alarm.escalation_level}i",
        "active": _boolean(alarm.active),
        "latched": _boolean(alarm.latched),
        "shelved": _boolean(alarm.shelved),
        "out_of_service": _boolean(alarm.out_of_service),
        "raised_at": f"{alarm.raised_at}i",
        "since_raised": repr(round((event.at - alarm.raised_at) / 1e9, 3)),
    }
    if event.by is not None:
        fields["by"] = string_field(event.by)
    if alarm.held_by is not None:
        fields["held_by"] = string_field(alarm.held_by)
    return fields | _value_field(alarm.value)


def _boolean(flag: bool) -> str:
    return "true" if flag else "false"


def _value_field(value: Value | None) -> dict[str, str]:
    """`value` for a finite number, `value_text` for anything else (see the module docstring)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"value_text": string_field("true" if value else "false")}
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return {"value": repr(float(value))}
    return {"value_text": string_field(str(value))}


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def string_field(text: str) -> str:
    return f'"{text.translate(_STRING_ESCAPES)}"'


class EventLines:
    """Encodes events, keeping two events of one alarm at the same nanosecond apart.

    InfluxDB overwrites a point with the same series and timestamp, and one command can cause
    two events of one alarm at once (`on_site` also acknowledges), so the second is moved one
    nanosecond later instead of silently replacing the first.
    """

    def __init__(self, site: str, risks: Mapping[str, str] | None = None) -> None:
        self.site = site
        self.risks = dict(risks or {})
        """The risk level of each zone, by zone id (the `risk` tag)."""
        self._last: dict[str, int] = {}

    def __call__(self, event: AlarmEvent) -> str:
        at = event.at
        last = self._last.get(event.alarm_id)
        if last is not None and at <= last < at + 1000:
            at = last + 1
        self._last[event.alarm_id] = at
        return event_line(event, self.site, at, self.risks.get(event.alarm.zone))
