"""The console's languages: a catalogue per language (catalog/<lang>.json) and the alarm text
built from the feed's fields, so that a guard reads an alarm in their own language.

The alarm feed stays as it is (English `message`, ids): translation happens here. An alarm's
text comes from a template per rule (`rule` in the catalogue) filled with the device, its
kind, the zone's name from the site file (`name_zh` for Chinese) and the value; a rule the
catalogue does not know shows the feed's own English `message`.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from typing import Any

from firegw.console.places import Places

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
"""The customer's guards read Chinese."""

_UNITS = {
    "pressure_low": "MPa",
    "pressure_high": "MPa",
    "pressure_falling": "MPa",
    "retention_low": "days",
    "fps_low": "fps",
}


def language(requested: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """One of `LANGUAGES` for what a user or a browser asked (`zh`, `zh-Hans`, `en-GB`, ...).

    An Accept-Language header works too: its first language the console has wins.
    """
    for part in (requested or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return default


@cache
def catalog(lang: str) -> dict[str, Any]:
    """The whole catalogue of `lang` (a key of `LANGUAGES`)."""
    text = resources.files("firegw.console").joinpath(f"catalog/{lang}.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def label(lang: str, section: str, key: object) -> str:
    """A word of the catalogue (`class`, `priority`, `state`, `kind`, `event`, `action`), or
    the key itself when the catalogue lacks it."""
    return str(catalog(lang).get(section, {}).get(str(key), key))


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def alarm_text(alarm: dict[str, Any], places: Places, lang: str) -> str:
    """What the alarm says, in `lang`: the rule's template filled in, or the feed's message."""
    rule = str(alarm.get("rule") or "")
    template = catalog(lang).get("rule", {}).get(rule)
    if not isinstance(template, str):
        return str(alarm.get("message") or alarm.get("id") or "")
    site = str(alarm.get("site") or "")
    device = alarm.get("device")
    kind = places.kind(site, device)
    fields = _Fields(
        device=str(device or ""),
        kind=label(lang, "kind", kind) if kind else "",
        zone=places.zone(site, alarm.get("zone"), lang),
        building=places.building(site, alarm.get("building"), lang),
        value=_value(alarm.get("value"), rule, lang),
        by=str(alarm.get("acknowledged_by") or alarm.get("out_of_service_by") or ""),
    )
    if rule == "out_of_service":
        fields["target"] = _target(alarm, places, lang)
    return " ".join(template.format_map(fields).split())


def _target(alarm: dict[str, Any], places: Places, lang: str) -> str:
    """What an `out_of_service:<target>` alarm is about: a device, or one alarm."""
    target = str(alarm.get("id", "")).partition(":")[2]
    site = str(alarm.get("site") or "")
    kind = places.kind(site, target)
    if kind is not None:
        return f"{label(lang, 'kind', kind)} {target}"
    return str(catalog(lang)["ui"]["alarm_named"]).format(target)


def _value(value: object, rule: str, lang: str) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        text = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        unit = _UNITS.get(rule)
        return f"{text} {label(lang, 'unit', unit)}" if unit else text
    return label(lang, "value", value)
