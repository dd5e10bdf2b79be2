"""Where drivers deliver readings: one awaitable call per poll or message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from drivers.reading import Reading

ReadingSink = Callable[[Sequence[Reading]], Awaitable[None]]
"""Takes all readings of one poll (or one message) of one device at once.

Awaiting it is the backpressure: a driver does not poll that device again until it returns.
"""
