"""Sinks deliver the durable outbox to a time-series database, with retry, never dropping data."""

from gateway.sinks.influx_v1 import InfluxV1Sink, SinkError

__all__ = ["InfluxV1Sink", "SinkError"]
