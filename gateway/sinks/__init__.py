"""Sinks deliver the durable outbox to a time-series database, with retry, never dropping data."""

from gateway.sinks.delivery import OutboxSink, SinkError
from gateway.sinks.influx_v1 import InfluxV1Sink
from gateway.sinks.influx_v2 import InfluxV2Sink

__all__ = ["InfluxV1Sink", "InfluxV2Sink", "OutboxSink", "SinkError"]
