"""`ReadingRecorder`: every reading into the outbox, as an InfluxDB line, for the history."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core import Reading
from gateway.config import Site
from gateway.outbox.lineprotocol import LineProtocolError, encode_point, series_key
from gateway.outbox.writer import OutboxWriter

__all__ = ["ReadingRecorder"]

log = logging.getLogger(__name__)


class ReadingRecorder:
    """Hub subscriber that turns readings into InfluxDB lines and queues them for the outbox.

    Each device's series key (measurement and tags) is encoded once, at start-up; a reading
    only adds its fields and timestamp. A reading that cannot be encoded is counted in
    `unencodable` and logged the first time.
    """

    def __init__(self, site: Site, writer: OutboxWriter) -> None:
        self._writer = writer
        self._series = {
            device.id: series_key(device.kind.value, site.tags(device))
            for device in site.config.devices
        }
        itself = site.config.site.gateway_id  # its own health readings (gateway.health)
        self._series[itself] = series_key(
            "gateway", {"site": site.config.site.id, "device": itself}
        )
        for link in site.links:  # whether each connection is up (gateway.runtime.links)
            self._series[link] = series_key("link", {"site": site.config.site.id, "device": link})
        self.unencodable = 0

    async def __call__(self, readings: Sequence[Reading]) -> None:
        for reading in readings:
            try:
                line = encode_point(self._series[reading.device], reading)
            except LineProtocolError as error:
                self.unencodable += 1
                if self.unencodable == 1:
                    log.error(
                        "reading of %s.%s cannot be stored: %s (counting, not logging again)",
                        reading.device,
                        reading.point,
                        error,
                    )
                continue
            await self._writer.put(line)
