"""Alarms in the gateway: the rules engine's events stored, published and acted on.

- `AlarmStore`: current alarms and the event history on disk (SQLite WAL), for restarts.
- `AlarmFeed`: the public MQTT interface (gateway/alarms/README.md): retained alarm states,
  events, the gateway's status with a last will, commands and replies; fire first.
- `AlarmService`: the glue, a hub subscriber that runs the engine, stores, publishes, writes
  alarm events to the outbox for InfluxDB, and serves commands.
"""

from gateway.alarms.audit import MEASUREMENT as AUDIT_MEASUREMENT
from gateway.alarms.audit import AuditEntry, printable
from gateway.alarms.feed import AlarmFeed
from gateway.alarms.lines import MEASUREMENT
from gateway.alarms.payloads import encode, is_gone
from gateway.alarms.service import AlarmService
from gateway.alarms.store import AlarmStore, read_commands
from gateway.alarms.topics import FeedTopics

__all__ = [
    "AUDIT_MEASUREMENT",
    "MEASUREMENT",
    "AlarmFeed",
    "AlarmService",
    "AlarmStore",
    "AuditEntry",
    "FeedTopics",
    "encode",
    "is_gone",
    "printable",
    "read_commands",
]
