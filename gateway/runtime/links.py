"""`LinkWatch`: whether each connection the site's devices depend on is up, as readings.

A panel's Modbus link, or the broker the cameras publish to, is watched like a device (kind
`link`, see `gateway.config.Site.links`): every second the gateway reads `up` for each, and
the rules raise one `link_lost` alarm for a link that is down, holding back the communication
losses of the devices behind it as its consequences. A Modbus link counts as up while it is
connected and some unit answered within half the shortest supervision window of its devices,
so that the link's alarm comes before theirs; the broker's while the MQTT driver is connected.
A link's reading is published when its state changes, and otherwise once every `REFRESH`
seconds for the history (see there).
At start, a link is not reported down before it had its devices' whole supervision window to
come up: connecting takes a moment, and a loaded box is slow. Time the gateway itself could
not poll (`KeepingUp`: its loop starved, its connections waiting their turn) counts neither
against a link's answers nor against that start-up grace.
"""

from __future__ import annotations

import asyncio
import logging
import time

from core import Reading, ReadingSink, now_ns
from drivers.modbus import ModbusDriver
from drivers.mqtt import MqttDriver
from gateway.config import BROKER_LINK, Site
from gateway.health import KeepingUp

__all__ = ["LinkWatch"]

log = logging.getLogger(__name__)

INTERVAL = 1.0
REFRESH = 60.0
"""Seconds between readings of a link whose state has not changed. The rules need only the
changes; with one small I/O module per device a site has as many links as devices, and an
`up` of every link every second was a fifth of all the readings of the reference site laid
out that way (1,550 a second at 10x), each one encoded, stored and sent for nothing."""


class LinkWatch:
    """Reports every `interval` seconds whether each link is up, to `publish` (the hub)."""

    def __init__(
        self,
        site: Site,
        modbus: ModbusDriver,
        mqtt: MqttDriver | None,
        publish: ReadingSink,
        *,
        interval: float = INTERVAL,
        refresh: float = REFRESH,
        keeping_up: KeepingUp | None = None,
    ) -> None:
        self.modbus, self.mqtt, self.publish, self.interval = modbus, mqtt, publish, interval
        self.refresh = refresh
        self.keeping_up = keeping_up
        self.window = {
            link: min(site.supervision(device) for device in devices)
            for link, devices in site.links.items()
        }
        self.within = {link: window / 2 for link, window in self.window.items()}
        self._known: set[str] = set()
        self._published: dict[str, tuple[bool, float]] = {}
        """Each link's state as last published, and when."""
        self._started = time.monotonic()

    async def run(self) -> None:
        """Report until cancelled."""
        while True:
            readings = self.readings()
            if readings:
                await self.publish(readings)
            await asyncio.sleep(self.interval)

    def readings(self) -> list[Reading]:
        """A reading for each link whose state is known (it was up once, or is past its
        start-up grace) and changed since it was last published, or was last published
        `refresh` seconds ago or more."""
        now = time.monotonic()
        at, elapsed = now_ns(), now - self._started - self._unpolled_since(self._started)
        readings = []
        for link, window in self.window.items():
            up = self.up(link, now)
            if up or elapsed >= window:
                self._known.add(link)
            if link not in self._known:
                continue
            published = self._published.get(link)
            if published is not None and published[0] == up and now - published[1] < self.refresh:
                continue
            self._published[link] = (up, now)
            readings.append(Reading(link, "up", up, observed_at=at))
        return readings

    def up(self, link: str, now: float) -> bool:
        if link == BROKER_LINK:
            return self.mqtt is not None and self.mqtt.connected
        last = self.modbus.last_answer(link)
        if last is None:
            return False
        return now - last - self._unpolled_since(last) < self.within[link]

    def _unpolled_since(self, since: float) -> float:
        return self.keeping_up.unpolled_since(since) if self.keeping_up is not None else 0.0
