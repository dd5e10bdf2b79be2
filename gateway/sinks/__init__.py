"""Sinks deliver the durable outbox to a time-series database, with retry, never dropping data.

Every sink keeps the `Sink` promise; `OutboxSink` holds what they share (positions, splitting,
backoff) and `InfluxV1Sink` writes to InfluxDB 1.x.

`InfluxV2Sink` lives in `gateway.sinks.influx_v2` and is imported only where a v2 connection is
configured: influxdb-client costs about 16 MB of memory, too much to pay for nothing on a box
with 1 GB.
"""

from gateway.sinks.delivery import OutboxSink, SinkError
from gateway.sinks.influx_v1 import InfluxV1Sink
from gateway.sinks.sink import Sink

__all__ = ["InfluxV1Sink", "OutboxSink", "Sink", "SinkError"]
