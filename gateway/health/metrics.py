"""The status document as Prometheus metrics (`/metrics`), and a `/healthz` for a container's
healthcheck (served by `gateway.health.metrics_server`).

The figures are the status topic's own (`StatusReporter.document`, built afresh for every
scrape), renamed to Prometheus' conventions: a `firegw_` prefix, counters ending in `_total`,
units in the name (`_seconds`, `_lines`). The exposition format is a few lines of text, so it
is written here rather than through a client library built around threads and global
registries. Nothing here holds up the gateway: a scrape reads counters already kept.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONTENT_TYPE", "metrics_text"]

log = logging.getLogger(__name__)

Labels = Mapping[str, str]
Document = Mapping[str, Any]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_MODBUS_COUNTERS = {
    "requests": "Modbus requests sent",
    "responses": "Modbus responses received",
    "timeouts": "Modbus requests that got no answer in time",
    "exceptions": "Modbus exception responses",
    "disconnected": "Modbus reads that found the endpoint disconnected",
    "mismatches": "Modbus answers to another question, not taken as data",
    "polls": "device polls",
    "cycles": "poll cycles",
    "reconnects": "reconnections to the endpoint",
    "connect_failures": "failed connection attempts",
}
_MQTT_COUNTERS = ("received", "rejected", "field_errors", "unknown_topics", "reconnects")
_FEED_COUNTERS = ("events", "commands", "refused", "reconnects", "repairs")
_DEVICE_STATES = ("ok", "degraded", "lost", "waiting")


@dataclass
class _Family:
    name: str
    kind: str
    help: str
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def lines(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            yield f"{self.name}{_labels(labels)} {_number(value)}"


class _Exposition:
    """Metric families in the order they were first named."""

    def __init__(self) -> None:
        self.families: dict[str, _Family] = {}

    def add(
        self, name: str, kind: str, help_text: str, value: object, labels: Labels | None = None
    ) -> None:
        if not isinstance(value, int | float):
            return  # a figure the document does not have (null): no sample rather than a lie
        family = self.families.setdefault(name, _Family(name, kind, help_text))
        family.samples.append((labels or {}, float(value)))

    def gauge(self, name: str, help_text: str, value: object, labels: Labels | None = None) -> None:
        self.add(f"firegw_{name}", "gauge", help_text, value, labels)

    def counter(
        self, name: str, help_text: str, value: object, labels: Labels | None = None
    ) -> None:
        self.add(f"firegw_{name}_total", "counter", help_text, value, labels)

    def text(self) -> str:
        return "".join(line + "\n" for f in self.families.values() for line in f.lines())


def metrics_text(document: Document, *, site: str, version: str) -> str:
    """The exposition text of one status document."""
    out = _Exposition()
    out.gauge("info", "the gateway's site and version", 1, {"site": site, "version": version})
    out.gauge("uptime_seconds", "seconds since this run started", document.get("uptime"))
    out.counter("readings", "readings received from the drivers this run", document["readings"])
    devices = document.get("devices") or {}
    for state in sorted(set(_DEVICE_STATES) | set(devices)):
        out.gauge("devices", "devices by health state", devices.get(state, 0), {"state": state})
    _modbus(out, document.get("modbus") or {})
    _mqtt(out, document.get("mqtt"))
    _history(out, document.get("history"))
    _alarms(out, document.get("alarms") or {}, document.get("alarm_system"))
    _feed(out, document.get("feed"))
    _storage(out, document.get("storage"))
    for task, count in sorted((document.get("restarts") or {}).items()):
        out.counter("task_restarts", "crashes of a supervised task", count, {"task": task})
    loop = document.get("event_loop") or {}
    out.gauge("event_loop_lag_seconds", "how late the event loop ran, latest", loop.get("lag"))
    out.gauge(
        "event_loop_worst_lag_seconds",
        "how late the event loop ran, worst of the last minute",
        loop.get("worst_lag"),
    )
    return out.text()


def _modbus(out: _Exposition, endpoints: Mapping[str, Mapping[str, Any]]) -> None:
    for endpoint, stats in sorted(endpoints.items()):
        for key, help_text in _MODBUS_COUNTERS.items():
            out.counter(f"modbus_{key}", help_text, stats.get(key), {"endpoint": endpoint})


def _mqtt(out: _Exposition, mqtt: Mapping[str, Any] | None) -> None:
    if mqtt is None:
        return
    out.gauge("mqtt_connected", "whether the device broker is connected", int(mqtt["connected"]))
    for key in _MQTT_COUNTERS:
        out.counter(f"mqtt_{key}", f"MQTT device messages: {key.replace('_', ' ')}", mqtt.get(key))


def _history(out: _Exposition, history: Mapping[str, Any] | None) -> None:
    if history is None:
        return
    out.gauge("outbox_backlog_lines", "lines waiting in the outbox", history["backlog"])
    out.gauge("outbox_max_lines", "the outbox's size cap", history["max_rows"])
    out.gauge("outbox_fill_ratio", "share of the outbox's cap in use", history["fill"])
    out.counter("outbox_dropped_lines", "lines dropped at the cap", history["dropped"])
    out.gauge("outbox_dead_letters", "lines set aside as malformed", history["dead_letters"])
    out.gauge(
        "history_late", "whether history is not reaching a database", history["late"] is not None
    )
    for sink in history.get("sinks", ()):
        labels = {"sink": sink["name"]}
        out.gauge("sink_backlog_lines", "lines a database has yet to take", sink["backlog"], labels)
        out.gauge(
            "sink_delay_seconds",
            "age of the oldest line a database has yet to take (0 when up to date)",
            sink["behind"] or 0.0,
            labels,
        )
        out.counter("sink_written_lines", "lines a database took this run", sink["written"], labels)
        out.counter("sink_rejected_lines", "lines a database refused", sink["rejected"], labels)
        out.gauge(
            "sink_failing", "whether the last write failed", sink["last_error"] is not None, labels
        )
        out.gauge(
            "sink_last_success_timestamp_seconds",
            "when a database last took a batch",
            sink["last_success"],
            labels,
        )


def _alarms(out: _Exposition, alarms: Mapping[str, Any], system: Mapping[str, Any] | None) -> None:
    for alarm_class, states in sorted((alarms.get("by_class_and_state") or {}).items()):
        for state, count in sorted(states.items()):
            out.gauge(
                "alarms", "alarms by class and state", count, {"class": alarm_class, "state": state}
            )
    out.gauge("alarms_active", "alarms whose condition is present", alarms.get("active"))
    out.gauge(
        "alarms_unacknowledged",
        "alarms waiting for an acknowledgement",
        alarms.get("unacknowledged"),
    )
    if system is None:
        return
    kpis = {
        "last_10_min": "alarms announced in the last 10 minutes",
        "per_10_min": "alarms announced per 10 minutes, on average",
        "peak_10_min": "most alarms announced in one 10-minute period",
        "time_in_flood": "share of 10-minute periods in flood",
        "chattering": "alarms chattering now",
        "stale": "alarms active for more than 24 hours",
    }
    for key, help_text in kpis.items():
        out.gauge(f"alarm_system_{key}", f"{help_text} (ISA-18.2)", system.get(key))
    out.gauge("alarm_system_in_flood", "whether the alarms are in flood", system.get("in_flood"))
    out.counter("alarm_system_announced", "alarms announced to a person", system.get("announced"))
    for priority, share in sorted((system.get("priorities") or {}).items()):
        out.gauge(
            "alarm_system_priority_ratio",
            "share of announced alarms by priority",
            share,
            {"priority": priority},
        )


def _feed(out: _Exposition, feed: Mapping[str, Any] | None) -> None:
    if feed is None:
        return
    for key in _FEED_COUNTERS:
        out.counter(f"feed_{key}", f"alarm feed: {key}", feed.get(key))
    out.gauge("feed_dropped", "alarm feed messages dropped", feed.get("dropped"))
    out.gauge(
        "feed_other_gateway",
        "whether another gateway publishes as this site",
        feed.get("other_gateway") is not None,
    )


def _storage(out: _Exposition, storage: Mapping[str, Any] | None) -> None:
    if storage is None:
        return
    for store in ("outbox", "alarm_store"):
        state = storage.get(store) or {}
        labels = {"store": store}
        out.gauge("store_ok", "whether a store's file can be written", state.get("ok"), labels)
        out.gauge(
            "store_replaced",
            "damaged or lost files replaced this run",
            len(state.get("replaced", ())),
            labels,
        )
    out.gauge(
        "readings_waiting",
        "readings waiting in memory for the disk",
        storage.get("readings_waiting"),
    )
    out.counter(
        "readings_not_stored",
        "readings dropped because the disk failed",
        storage.get("readings_not_stored"),
    )


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
