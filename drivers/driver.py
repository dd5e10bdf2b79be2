"""What every protocol driver promises the gateway."""

from __future__ import annotations

from typing import Protocol

from core import ReadingSink

__all__ = ["Driver"]


class Driver(Protocol):
    """A protocol driver: every configured device polled or subscribed to, until cancelled.

    Lifecycle: `run(sink)` connects and keeps every connection up (reconnecting with backoff)
    until the task is cancelled; it never returns otherwise, and on cancellation it closes
    its connections. Each poll of a device, or each message from it, ends in one call of
    `sink` with the device's readings, good or bad with the reason in their quality; awaiting
    the sink is the backpressure. A failure stays with its device or connection: it never
    ends `run`, and it is logged once, with its recovery.
    """

    async def run(self, sink: ReadingSink) -> None:
        """Deliver readings to `sink` until cancelled."""
        ...
