"""The hub: every batch of readings from every driver goes to every subscriber, in order."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core import Boundary, Reading, ReadingSink

__all__ = ["Hub"]

log = logging.getLogger(__name__)


class Hub:
    """Fans readings out to subscribers one batch at a time.

    Subscribers are awaited in the order they subscribed, so each sees batches in the order the
    drivers published them. A subscriber applies backpressure by awaiting (the outbox writer
    does when its queue is full); it must never raise. One that does is contained at its own
    `Boundary` (counted in `failures`, logged once a minute) and the batch still goes to the
    rest, so `publish` itself never raises.
    """

    def __init__(self) -> None:
        self._subscribers: list[tuple[ReadingSink, Boundary]] = []
        self.published = 0

    def subscribe(self, name: str, sink: ReadingSink) -> None:
        self._subscribers.append((sink, Boundary(log, f"hub subscriber {name}")))

    @property
    def failures(self) -> int:
        """Batches a subscriber failed on, all subscribers together."""
        return sum(boundary.failures for _, boundary in self._subscribers)

    async def publish(self, readings: Sequence[Reading]) -> None:
        self.published += len(readings)
        for sink, boundary in self._subscribers:
            with boundary:
                await sink(readings)
