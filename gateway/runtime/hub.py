"""The hub: every batch of readings from every driver goes to every subscriber, in order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from core import Reading

log = logging.getLogger(__name__)

ReadingSink = Callable[[Sequence[Reading]], Awaitable[None]]


class Hub:
    """Fans readings out to subscribers one batch at a time.

    Subscribers are awaited in the order they subscribed, so each sees batches in the order the
    drivers published them. A subscriber applies backpressure by awaiting (the outbox writer
    does when its queue is full); it must never raise, and one that does is logged and the
    batch still goes to the rest.
    """

    def __init__(self) -> None:
        self._subscribers: list[tuple[str, ReadingSink]] = []
        self.published = 0

    def subscribe(self, name: str, sink: ReadingSink) -> None:
        self._subscribers.append((name, sink))

    async def publish(self, readings: Sequence[Reading]) -> None:
        self.published += len(readings)
        for name, sink in self._subscribers:
            try:
                await sink(readings)
            except Exception:
                log.exception("subscriber %s failed on a batch of %d readings", name, len(readings))
