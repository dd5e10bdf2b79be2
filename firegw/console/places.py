"""Where things are, from the site files: buildings, zones and devices with their names in
each language, for the console's text and its tiles (the feed carries only ids)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.alarms import FeedTopics
from gateway.config import Site


@dataclass(frozen=True, slots=True)
class Name:
    """A name in English and, when the site file gives one, in Chinese."""

    en: str
    zh: str | None

    def text(self, lang: str) -> str:
        return (self.zh or self.en) if lang.startswith("zh") else self.en


@dataclass(frozen=True, slots=True)
class Place:
    """One site file: its topics and its names."""

    site: Site
    topics: FeedTopics

    @property
    def id(self) -> str:
        return self.site.config.site.id


class Places:
    """Every site the console shows, by site id."""

    def __init__(self, sites: Sequence[Site]) -> None:
        self.sites = {site.config.site.id: Place(site, FeedTopics.for_site(site)) for site in sites}
        if len(self.sites) != len(sites):
            raise ValueError("two site files have the same site id")
        self._zones: dict[tuple[str, str], Name] = {}
        self._buildings: dict[tuple[str, str], Name] = {}
        self._devices: dict[tuple[str, str], tuple[str, str]] = {}
        for site_id, place in self.sites.items():
            for zone in place.site.config.zones:
                self._zones[site_id, zone.id] = Name(zone.name, zone.name_zh)
            for building in place.site.config.buildings:
                self._buildings[site_id, building.id] = Name(building.name, building.name_zh)
            for device in place.site.config.devices:
                self._devices[site_id, device.id] = (str(device.kind), device.zone)

    def zone(self, site: str, zone: str | None, lang: str) -> str:
        """The zone's name in `lang`, or its id when the site file does not know it."""
        if not zone:
            return ""
        name = self._zones.get((site, zone))
        return name.text(lang) if name else zone

    def building(self, site: str, building: str | None, lang: str) -> str:
        if not building:
            return ""
        name = self._buildings.get((site, building))
        return name.text(lang) if name else building

    def kind(self, site: str, device: str | None) -> str | None:
        """The device's kind (`smoke_detector`, ...); `gateway` for the gateway itself."""
        if device is None:
            return None
        found = self._devices.get((site, device))
        if found is not None:
            return found[0]
        return "gateway" if device == f"firegw-{site}" else None

    def site_name(self, site: str) -> str:
        place = self.sites.get(site)
        return place.site.config.site.name if place else site

    def layout(self, lang: str) -> list[dict[str, Any]]:
        """Every site's buildings and zones with their names and devices, for the tiles."""
        sites = []
        for site_id, place in self.sites.items():
            config = place.site.config
            zones: dict[str, dict[str, Any]] = {
                zone.id: {
                    "id": zone.id,
                    "building": zone.building,
                    "name": self.zone(site_id, zone.id, lang),
                    "risk": str(zone.risk),
                    "devices": {},
                }
                for zone in config.zones
            }
            for device in config.devices:
                zones[device.zone]["devices"][device.id] = str(device.kind)
            sites.append(
                {
                    "id": site_id,
                    "name": config.site.name,
                    "buildings": [
                        {
                            "id": building.id,
                            "name": self.building(site_id, building.id, lang),
                            "zones": [z for z in zones.values() if z["building"] == building.id],
                        }
                        for building in config.buildings
                    ],
                }
            )
        return sites
