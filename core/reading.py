"""The one thing every driver produces: a typed, timestamped reading of one point of one device."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

Value = bool | int | float | str


class Quality(StrEnum):
    """Whether a reading can be trusted, and if not, why.

    Bad readings are stored too: the rules decide what they mean (a hydrant transmitter that
    reads below 3.6 mA is a wiring fault, not a pressure of zero).
    """

    GOOD = "good"
    TIMEOUT = "timeout"
    NO_RESPONSE = "no_response"
    EXCEPTION = "exception"
    OUT_OF_RANGE = "out_of_range"
    DECODE_ERROR = "decode_error"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class Reading:
    """The value of one point of one device at the time the device was observed.

    `observed_at` is wall-clock nanoseconds since the epoch (the box runs NTP), taken when the
    response arrived, not when it was written anywhere. A bad reading has `value` None and a
    `detail` that names the cause (for example the Modbus exception code).
    """

    device: str
    point: str
    value: Value | None
    quality: Quality = Quality.GOOD
    unit: str | None = None
    observed_at: int = 0
    detail: str | None = None

    @property
    def good(self) -> bool:
        return self.quality is Quality.GOOD


def now_ns() -> int:
    """Wall-clock time for `Reading.observed_at`."""
    return time.time_ns()


ReadingSink = Callable[[Sequence[Reading]], Awaitable[None]]
"""Where readings go: all readings of one poll (or one message) of one device at once.

Awaiting it is the backpressure: a driver does not poll that device again until it returns.
"""
