"""Sinks deliver the durable outbox to a time-series database, with retry, never dropping data.

Every sink keeps the `Sink` promise; `OutboxSink` holds what they share (positions, splitting,
backoff), `InfluxV1Sink` writes to InfluxDB 1.x and `InfluxV2Sink` to the 2.x API. Each sink
is imported only when it is first asked for (``from gateway.sinks import InfluxV2Sink``), where
such a connection is configured: aiohttp costs about 14 MB of memory and a quarter of a second
of start-up, influxdb-client about 16 MB more, too much to pay for nothing on a box with 1 GB.
"""

from typing import TYPE_CHECKING

from gateway.sinks.sink import Sink

if TYPE_CHECKING:
    from gateway.sinks.influx_v1 import InfluxV1Sink
    from gateway.sinks.influx_v2 import InfluxV2Sink

__all__ = ["InfluxV1Sink", "InfluxV2Sink", "Sink"]


def __getattr__(name: str) -> object:
    """`InfluxV1Sink` or `InfluxV2Sink`, imported the first time it is asked for."""
    if name == "InfluxV1Sink":
        from gateway.sinks.influx_v1 import InfluxV1Sink  # noqa: PLC0415

        return InfluxV1Sink
    if name == "InfluxV2Sink":
        from gateway.sinks.influx_v2 import InfluxV2Sink  # noqa: PLC0415

        return InfluxV2Sink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
