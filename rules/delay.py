"""On-delay and off-delay: a condition must hold for a while before the alarm state follows it.

OPC UA Part 9 B.1.5: the value must stay beyond the limit for the whole on-delay before the
alarm goes active, and the off-delay keeps the alarm active through brief dips. Both stop
fleeting and chattering alarms; a delay of 0 follows the condition at once.
"""

from __future__ import annotations


class DelayTimer:
    """Turns a raw condition (true or false at each observation) into a debounced one.

    Times are monotonic seconds. `update` is called with every observation, `due` from the
    engine's tick, so a delay expires on time even when no further reading arrives.
    """

    __slots__ = ("active", "off_delay", "on_delay", "raw", "since")

    def __init__(self, on_delay: float = 0.0, off_delay: float = 0.0) -> None:
        self.on_delay = on_delay
        self.off_delay = off_delay
        self.active = False
        """The debounced condition: what the alarm follows."""
        self.raw = False
        """The condition as last observed."""
        self.since = 0.0
        """When `raw` last changed."""

    @property
    def pending(self) -> bool:
        """The raw condition differs from the debounced one: a delay is running."""
        return self.raw is not self.active

    def update(self, raw: bool, now: float) -> bool | None:
        """Feed one observation; returns the new debounced state if it changed, else None."""
        if raw is not self.raw:
            self.raw = raw
            self.since = now
        if raw is self.active:
            return None
        return self.due(now)

    def due(self, now: float) -> bool | None:
        """Let time pass; returns the new debounced state if a delay has just run out."""
        if self.raw is self.active:
            return None
        delay = self.on_delay if self.raw else self.off_delay
        if now - self.since < delay:
            return None
        self.active = self.raw
        return self.active

    def force(self, active: bool) -> None:
        """Set both states without a delay: used when restoring alarms after a restart."""
        self.active = self.raw = active
