"""What the page gets: the feed's documents as they are, plus their words in one language.

Every view keeps the feed's own fields (the page decides from `state`, `latched`, `active`,
`needs_person` which actions an alarm offers) and adds `key` (site and alarm id, unique
across a campus), `text`, the zone's and building's names and the labels of class, priority,
state and escalation in the session's language.
"""

from __future__ import annotations

from typing import Any

from firegw.alarms import person_needed
from firegw.console.i18n import alarm_text, catalog, label
from firegw.console.places import Places

Document = dict[str, Any]


def alarm_key(site: str, alarm_id: str) -> str:
    return f"{site}/{alarm_id}"


def alarm_view(alarm: Document, places: Places, lang: str) -> Document:
    site = str(alarm.get("site") or "")
    level = alarm.get("escalation_level") or 0
    kind = places.kind(site, alarm.get("device"))
    return {
        **alarm,
        "key": alarm_key(site, str(alarm.get("id"))),
        "text": alarm_text(alarm, places, lang),
        "kind": kind,
        "zone_name": places.zone(site, alarm.get("zone"), lang),
        "building_name": places.building(site, alarm.get("building"), lang),
        "site_name": places.site_name(site),
        "labels": {
            "class": label(lang, "class", alarm.get("class")),
            "priority": label(lang, "priority", alarm.get("priority")),
            "state": label(lang, "state", alarm.get("state")),
            "kind": label(lang, "kind", kind) if kind else "",
            "escalation": catalog(lang)["escalation"].get(str(level), "") if level else "",
            "to_do": _to_do(alarm, lang),
        },
    }


def _to_do(alarm: Document, lang: str) -> str:
    steps = person_needed(alarm)
    if steps is None:
        return ""
    return str(catalog(lang).get("to_do", {}).get(steps, steps))


def event_view(event: Document, places: Places, lang: str) -> Document:
    """One journal entry: the event's own fields and the alarm's words at that time."""
    alarm = event.get("alarm") or {}
    site = str(event.get("site") or alarm.get("site") or "")
    return {
        "site": site,
        "alarm_id": event.get("alarm_id"),
        "key": alarm_key(site, str(event.get("alarm_id"))),
        "kind": event.get("kind"),
        "kind_label": label(lang, "event", event.get("kind")),
        "at": event.get("at"),
        "by": event.get("by"),
        "cause": event.get("cause"),
        "class": alarm.get("class"),
        "priority": alarm.get("priority"),
        "device": alarm.get("device"),
        "zone": alarm.get("zone"),
        "zone_name": places.zone(site, alarm.get("zone"), lang),
        "building_name": places.building(site, alarm.get("building"), lang),
        "text": alarm_text(alarm, places, lang) if alarm else "",
        "labels": {
            "class": label(lang, "class", alarm.get("class")),
            "priority": label(lang, "priority", alarm.get("priority")),
        },
    }


def status_view(site: str, status: Document | None, seen_at: int | None) -> Document:
    """A gateway's status, without the per-device detail: only which devices are lost or
    degraded (the tiles show them), the counts and the gateway's own state."""
    if status is None:
        return {"site": site, "state": "unknown", "seen_at": None}
    health = status.get("device_health") or {}
    by_state: dict[str, list[str]] = {"lost": [], "degraded": []}
    if isinstance(health, dict):
        for device, entry in health.items():
            state = entry.get("state") if isinstance(entry, dict) else None
            if state in by_state:
                by_state[state].append(str(device))
    return {
        "site": site,
        "state": status.get("state", "unknown"),
        "at": status.get("at"),
        "reason": status.get("reason"),
        "devices": status.get("devices"),
        "alarms": status.get("alarms"),
        "lost": sorted(by_state["lost"]),
        "degraded": sorted(by_state["degraded"]),
        "seen_at": seen_at,
    }
