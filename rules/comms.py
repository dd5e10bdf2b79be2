"""Communication loss: no good reading from a device for its supervision window.

GB 50166 wants a fault shown within 100 s and NFPA 72 a trouble within 200 s; the gateway
sets each device's window (3 poll intervals by default, capped at 100 s). The alarm is raised
as soon as the window passes, on the engine's tick, and clears with the next good reading.

The window runs on the engine's supervision clock: the monotonic clock less the time the
gateway itself could not poll (see `RuleEngine.tick`), so polls never made are not missed.
That credit never carries a device past `FAULT_DEADLINE_S` of real time unheard: a gateway
that stays behind delays no fault beyond what GB 50166 allows.
"""

from __future__ import annotations

from rules.model import DeviceInfo
from rules.monitor import Monitor, device_source
from rules.specs import SupervisionRule

FAULT_DEADLINE_S = 100.0
"""Real seconds without a good reading after which a device is lost, whatever the gateway's
own lag (GB 50166: a fault shown within 100 s)."""


class CommsMonitor(Monitor):
    """Watches when a device was last heard from."""

    __slots__ = ("device", "heard_at", "last_good", "window")

    def __init__(self, rule: SupervisionRule, device: DeviceInfo, start: float) -> None:
        super().__init__(device_source(rule, device), rule)
        self.device = device
        self.window = device.supervision
        self.last_good = start
        """Supervision-clock time of the last good reading; the engine's start counts as one."""
        self.heard_at = start
        """Monotonic time of the same: the deadline runs on real time."""

    def heard(self, supervised: float, now: float) -> bool | None:
        """A good reading arrived (at `supervised` on the supervision clock, `now` on the
        monotonic one); returns False when this ends a communication loss."""
        self.last_good = supervised
        self.heard_at = now
        if not self.timer.raw:
            return None
        return self.timer.update(False, now)

    def check(self, supervised: float, now: float) -> bool | None:
        """Called on every tick; returns True when the window has just passed."""
        if self.timer.raw:
            return None
        late = now - self.heard_at >= max(self.window, FAULT_DEADLINE_S)
        if supervised - self.last_good < self.window and not late:
            return None
        self.value = round(supervised - self.last_good, 3)
        return self.timer.update(True, now)

    def message(self) -> str:
        return f"{self.device.subject} {self.text}{self.device.place}"

    def raise_cause(self) -> str:
        return f"no good reading for {self.window:g} s (supervision window)"

    def clear_cause(self) -> str:
        return "good reading received"
