"""Alarms in the gateway: the rules engine's events stored, published and acted on.

- `AlarmStore`: current alarms and the event history on disk (SQLite WAL), for restarts.
- `AlarmFeed`: the public MQTT interface (gateway/alarms/README.md): retained alarm states,
  events, the gateway's status with a last will, commands and replies; fire first.
- `AlarmService`: the glue, a hub subscriber that runs the engine, stores, publishes, writes
  alarm events to the outbox for InfluxDB, and serves commands.
"""

from gateway.alarms.commands import Command, CommandError, parse_command
from gateway.alarms.devices import device_infos, gateway_device
from gateway.alarms.feed import AlarmFeed, FeedStats
from gateway.alarms.lines import MEASUREMENT, EventLines, event_line
from gateway.alarms.payloads import alarm_document, event_document, is_gone
from gateway.alarms.service import AlarmService
from gateway.alarms.store import AlarmStore, AlarmStoreClosedError
from gateway.alarms.topics import FeedTopics

__all__ = [
    "MEASUREMENT",
    "AlarmFeed",
    "AlarmService",
    "AlarmStore",
    "AlarmStoreClosedError",
    "Command",
    "CommandError",
    "EventLines",
    "FeedStats",
    "FeedTopics",
    "alarm_document",
    "device_infos",
    "event_document",
    "event_line",
    "gateway_device",
    "is_gone",
    "parse_command",
]
