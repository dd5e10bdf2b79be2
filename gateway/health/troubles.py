"""The gateway's own troubles beyond delivery: its stores and its site id, watched like a
device, so that the rules raise them on the feed like any other alarm.

Every `interval` seconds `GatewayTroubles.check` first checks each store's file
(`SqliteFile.check`: a file deleted, emptied or damaged while the gateway runs is replaced by
a fresh one there and then, and the store logs it), then hands the hub these readings of the
gateway itself (device `SiteInfo.gateway_id`, kind `gateway`; the rules in rules/defaults.py
raise the alarms):

- `outbox_intact` (alarm `outbox_replaced`): false in the one report after the outbox file
  was found damaged or lost and replaced by a fresh one;
- `alarm_store_intact` (`alarm_store_replaced`): the same for the alarm store, and for one
  found empty or missing at start whose alarms were taken back from the broker;
- `disk_full` (`disk_full`): true while the outbox or the alarm store cannot write for want
  of space;
- `storage_ok` (`storage_failing`): false while either cannot write for another reason;
- `site_id_unique` (`duplicate_gateway`): false while another gateway publishes as this site
  (the feed sees its status), or while the device broker keeps dropping the MQTT driver's
  session and the feed's connection to the same broker stays up: the mark of another client
  with the same client id (two gateways given one site id or one `mqtt.client_id`) taking the
  session over, again and again.

A replacement is one moment, not a state that lasts, so its flag is false once: the alarm is
raised and returns to normal at once, and stays on the feed, `returned_unacknowledged`, until a
person acknowledges it. The counts `readings_not_stored`, `alarm_events_waiting` and
`feed_repairs` go to InfluxDB with them, and `as_dict` is the status document's `storage`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from core import RateLimit, Reading, ReadingSink, now_ns
from drivers.mqtt import MqttDriver
from gateway.alarms import AlarmFeed, AlarmStore
from gateway.outbox import Outbox, OutboxWriter
from gateway.sqlitefile import STORAGE_ERRORS, SqliteFile

__all__ = ["CHECK_INTERVAL", "GatewayTroubles"]

log = logging.getLogger(__name__)

CHECK_INTERVAL = 5.0
"""Seconds between two checks of the stores' files and two reports: a deleted outbox is
noticed, replaced and on the feed within this long."""

TAKEN_OVER = 3
"""Drops of the MQTT driver's session within `TAKEN_OVER_WINDOW` seconds, with the feed's
connection to the same broker up all along, that count as another client taking it over."""
TAKEN_OVER_WINDOW = 60.0


class GatewayTroubles:
    """Checks the stores' files and reports the gateway's own troubles; see the module.

    Args:
        device: the gateway's device id.
        outbox, writer: the outbox and the writer in front of it (its failures and drops).
        alarm_store: the alarm store (its failures, waiting events, replacements).
        feed: the alarm feed (another gateway, repairs), or None without MQTT.
        mqtt: the MQTT driver, whose session another client may take over, or None.
        others: further stores whose files are checked (the rejected payloads).
        publish: where the readings go (the hub), or None.
        interval: seconds between checks.
    """

    def __init__(
        self,
        *,
        device: str,
        outbox: Outbox,
        writer: OutboxWriter,
        alarm_store: AlarmStore,
        feed: AlarmFeed | None = None,
        mqtt: MqttDriver | None = None,
        others: Sequence[SqliteFile] = (),
        publish: ReadingSink | None = None,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self.device = device
        self.outbox = outbox
        self.writer = writer
        self.alarm_store = alarm_store
        self.feed = feed
        self.mqtt = mqtt
        self.stores: tuple[SqliteFile, ...] = (outbox, alarm_store, *others)
        self.publish = publish
        self.interval = interval
        self._reported = {id(store): 0 for store in self.stores}
        self._check_log = RateLimit(60.0)
        self._drops: deque[tuple[float, int, int]] = deque()
        self._taken_over = False

    async def run(self) -> None:
        """Check and report every `interval` seconds until cancelled."""
        while True:
            await self.check()
            await asyncio.sleep(self.interval)

    async def check(self) -> list[Reading]:
        """Check every store's file now, then report; returns the readings."""
        for store in self.stores:
            try:
                await store.check()
            except STORAGE_ERRORS as error:  # a fresh file could not be made: the writes say so
                if self._check_log.due(str(store.path)):
                    log.warning("%s %s: cannot check the file: %s", store.what, store.path, error)
        readings = self.readings()
        if self.publish is not None:
            await self.publish(readings)
        return readings

    def readings(self) -> list[Reading]:
        """This moment's flags and counts as readings of the gateway (see the module)."""
        writer, store = self.writer, self.alarm_store
        failing = [(writer.failing, writer.full), (store.failing, store.full)]
        values: dict[str, tuple[bool | int, str | None]] = {
            "outbox_intact": (not self._newly_replaced(self.outbox), None),
            "alarm_store_intact": (not self._newly_replaced(store), None),
            "disk_full": (any(full for failed, full in failing if failed), None),
            "storage_ok": (not any(failed and not full for failed, full in failing), None),
            "site_id_unique": (self._site_id_unique(), None),
            "readings_not_stored": (writer.dropped, "lines"),
            "alarm_events_waiting": (store.waiting, "events"),
            "feed_repairs": (self.feed.stats.repairs if self.feed is not None else 0, None),
        }
        for other in self.stores[2:]:
            self._newly_replaced(other)
        at = now_ns()  # stored with its time, not at the epoch
        return [
            Reading(self.device, point, value, unit=unit, observed_at=at)
            for point, (value, unit) in values.items()
        ]

    def as_dict(self) -> dict[str, Any]:
        """For the status document: each store's state, what was replaced, what is waiting."""
        writer, store = self.writer, self.alarm_store
        document: dict[str, Any] = {
            "outbox": {
                "path": str(self.outbox.path),
                "ok": not writer.failing,
                "full": writer.failing and writer.full,
                "last_error": writer.health.last_error,
                "replaced": [r.as_dict() for r in self.outbox.replacements],
                "lines_lost": self.outbox.lost,
            },
            "alarm_store": {
                "path": str(store.path),
                "ok": not store.failing,
                "full": store.failing and store.full,
                "last_error": store.health.last_error,
                "replaced": [r.as_dict() for r in store.replacements],
                "events_waiting": store.waiting,
                "events_lost": store.events_lost,
            },
            "readings_waiting": writer.pending,
            "readings_not_stored": writer.dropped,
        }
        for other in self.stores[2:]:
            document[other.what.replace(" ", "_")] = {
                "path": str(other.path),
                "replaced": [r.as_dict() for r in other.replacements],
            }
        return document

    def _site_id_unique(self) -> bool:
        feed = self.feed
        if feed is None:
            return True
        return feed.other_gateway is None and not self._session_taken_over(feed)

    def _session_taken_over(self, feed: AlarmFeed) -> bool:
        """The driver's session dropped `TAKEN_OVER` times in the window while the feed stayed
        connected to the same broker (see the module); said once, and when it stops."""
        if self.mqtt is None:
            return False
        now, stats = time.monotonic(), self.mqtt.stats
        self._drops.append((now, stats.reconnects, feed.stats.reconnects))
        while now - self._drops[0][0] > TAKEN_OVER_WINDOW:
            self._drops.popleft()
        _, drops_then, feed_then = self._drops[0]
        drops = stats.reconnects - drops_then
        taken = drops >= TAKEN_OVER and feed.connected and feed.stats.reconnects == feed_then
        if taken and not self._taken_over:
            log.error(
                "MQTT: the device broker %s dropped the session of client id %s %d times in a "
                "minute while the alarm feed stayed connected to it: another client with that "
                "client id is taking it over, most likely a second gateway with the same site "
                "id or mqtt.client_id; give each building its own site id",
                self.mqtt.broker.where,
                self.mqtt.broker.client_id,
                drops,
            )
        elif self._taken_over and not taken:
            log.info("MQTT: the device broker keeps the session of this gateway again")
        self._taken_over = taken
        return taken

    def _newly_replaced(self, store: SqliteFile) -> bool:
        """Whether the store's file was replaced since the last report (then it is reported)."""
        count = len(store.replacements)
        newly = count > self._reported[id(store)]
        self._reported[id(store)] = count
        return newly
