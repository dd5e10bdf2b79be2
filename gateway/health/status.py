"""The gateway's status: one document with everything an operator needs to trust the box.

Published retained on `<prefix>/<site>/gateway/status` (the same topic whose last will says
`offline`) every `publish_every` seconds, and summarised in the log every `log_every` seconds.
The document is described in gateway/alarms/README.md; `firegw status CONFIG` prints it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core import ReadingSink, restarts
from drivers.modbus import ModbusDriver
from drivers.mqtt import MqttDriver
from gateway.alarms import AlarmFeed, AlarmService
from gateway.health.delivery import DeliveryHealth
from gateway.health.devices import HealthBook, count_states
from gateway.health.troubles import GatewayTroubles
from rules import AlarmState

__all__ = ["LOG_EVERY", "PUBLISH_EVERY", "StatusReporter"]

log = logging.getLogger(__name__)

PUBLISH_EVERY = 15.0
LOG_EVERY = 60.0
STORE_EVERY = 4
"""The alarm system's KPIs are stored with every fourth status (each minute by default)."""


@dataclass
class StatusReporter:
    """Builds the status document from the running gateway's parts and sends it out.

    `readings` says how many readings the hub has passed on since start; `troubles` gives the
    stores' state (`storage`).
    """

    readings: Callable[[], int]
    health: HealthBook
    delivery: DeliveryHealth | None
    alarms: AlarmService | None
    feed: AlarmFeed | None
    modbus: ModbusDriver
    mqtt: MqttDriver | None
    publish_every: float = PUBLISH_EVERY
    log_every: float = LOG_EVERY
    troubles: GatewayTroubles | None = None
    publish: ReadingSink | None = None
    """Where the alarm system's KPIs go as readings of the gateway `device` (the hub, for
    InfluxDB), with every `STORE_EVERY`-th status; None to keep them in the status only."""
    device: str = ""
    event_loop: Callable[[], Mapping[str, float]] | None = None
    """How late the event loop runs (`lag`, `worst_lag` in seconds), if it is measured."""

    def __post_init__(self) -> None:
        self.started_at = time.time_ns()
        self._started = time.monotonic()

    async def run(self) -> None:
        """Publish (and now and then log and store) the status until cancelled."""
        logged = time.monotonic()
        statuses = 0
        while True:
            due_in_log = time.monotonic() - logged >= self.log_every
            self._send(log_summary=due_in_log)
            if due_in_log:
                logged = time.monotonic()
            statuses += 1
            if statuses % STORE_EVERY == 0:
                await self._store_alarm_load()
            await asyncio.sleep(self.publish_every)

    def _send(self, *, log_summary: bool) -> None:
        """Send the status to the feed, which keeps it encoded: the document (1.7 MB at ten
        times the reference site laid out one endpoint per device) is not kept between
        statuses."""
        document = self.document()
        if self.feed is not None:
            self.feed.update_status(document)
        if log_summary:
            log.info("status: %s", summary(document))

    async def _store_alarm_load(self) -> None:
        if self.alarms is not None and self.publish is not None:
            load = self.alarms.load_summary()
            await self.publish(load.readings(self.device, time.time_ns()))

    def document(self) -> dict[str, Any]:
        """The status details (the feed adds `state`, `site` and `at`)."""
        health = self.health.snapshot()
        report = self.delivery.report if self.delivery is not None else None
        return {
            "started_at": self.started_at,
            "status_every": self.publish_every,
            "uptime": round(time.monotonic() - self._started, 1),
            "readings": self.readings(),
            "devices": count_states(health),
            "device_health": {device.device: device.as_dict() for device in health},
            "history": report.as_dict() if report is not None else None,
            "alarms": self._alarms(),
            "alarm_system": self.alarms.load_summary().to_dict() if self.alarms else None,
            "modbus": {
                endpoint: _endpoint(stats.as_dict())
                for endpoint, stats in self.modbus.stats.items()
            },
            "mqtt": self._mqtt(),
            "feed": self._feed(),
            "storage": self.troubles.as_dict() if self.troubles is not None else None,
            "restarts": dict(restarts),
            "event_loop": dict(self.event_loop()) if self.event_loop is not None else None,
        }

    def _alarms(self) -> dict[str, Any]:
        if self.alarms is None:
            return {}
        alarms = list(self.alarms.engine.alarms.values())
        unacknowledged = (AlarmState.UNACKNOWLEDGED, AlarmState.RETURNED_UNACKNOWLEDGED)
        by_class_and_state: dict[str, Counter[str]] = {}
        for alarm in alarms:
            by_class_and_state.setdefault(str(alarm.alarm_class), Counter())[str(alarm.state)] += 1
        return {
            "total": len(alarms),
            "active": sum(alarm.active for alarm in alarms),
            "unacknowledged": sum(alarm.state in unacknowledged for alarm in alarms),
            "by_class": dict(Counter(str(alarm.alarm_class) for alarm in alarms)),
            "by_class_and_state": {c: dict(states) for c, states in by_class_and_state.items()},
        }

    def _mqtt(self) -> dict[str, Any] | None:
        if self.mqtt is None:
            return None
        stats = self.mqtt.stats
        return {
            "connected": self.mqtt.connected,
            "received": stats.received,
            "rejected": sum(stats.rejected.values()),
            "field_errors": sum(stats.field_errors.values()),
            "unknown_topics": sum(stats.unknown_topics.values()),
            "unknown_devices": sum(stats.unknown_devices.values()),
            "reconnects": stats.reconnects,
        }

    def _feed(self) -> dict[str, Any] | None:
        if self.feed is None:
            return None
        stats = self.feed.stats
        return {
            "events": stats.events,
            "commands": stats.commands,
            "refused": stats.refused,
            "reconnects": stats.reconnects,
            "dropped": self.feed.dropped,
            "repairs": stats.repairs,
            "foreign_alarms": stats.foreign_alarms,
            "other_gateway": other.as_dict() if (other := self.feed.other_gateway) else None,
        }


def _endpoint(stats: Mapping[str, Any]) -> dict[str, Any]:
    """An endpoint's counters without the per-device tables (those are in `device_health`)."""
    return {
        key: value
        for key, value in stats.items()
        if key not in ("last_error", "round_trip", "last_round_trip")
    }


def summary(document: Mapping[str, Any]) -> str:
    """One line for the log: devices by state, alarms, and where the history stands."""
    devices = document["devices"]
    parts = [
        f"{sum(devices.values())} devices ("
        + ", ".join(f"{n} {state}" for state, n in devices.items() if n)
        + ")"
    ]
    alarms = document.get("alarms") or {}
    if alarms:
        parts.append(f"{alarms['total']} alarms ({alarms['unacknowledged']} unacknowledged)")
    load = document.get("alarm_system") or {}
    if load.get("in_flood"):
        parts.append(f"alarm flood: {load['last_10_min']} alarms in 10 min")
    parts.append(f"{document['readings']} readings")
    storage = document.get("storage") or {}
    if storage.get("readings_not_stored"):
        parts.append(f"{storage['readings_not_stored']} readings not stored (disk failing)")
    history = document.get("history")
    if history:
        parts.append(f"outbox backlog {history['backlog']}")
        parts.extend(
            f"sink {sink['name']} {sink['rate']:g} lines/s, "
            f"{sink['behind'] or 0:.0f} s behind"
            + (f", last error: {sink['last_error']}" if sink["last_error"] else "")
            for sink in history["sinks"]
        )
    return "; ".join(parts)
