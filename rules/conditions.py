"""Device rules: state match, threshold with deadband, rate of change, and signal validity.

Each monitor answers one question about one reading: is the condition present (True), gone
(False), or does this reading say nothing about it (None: a bad reading leaves a threshold
rule where it was)? These run for every reading, so they avoid allocation where they can.
"""

from __future__ import annotations

import functools
from array import array
from typing import TypeGuard

from core import Quality, Reading, Value
from rules.alarm import AlarmSource
from rules.model import DeviceInfo
from rules.monitor import Monitor, device_source
from rules.specs import (
    Direction,
    RateRule,
    StateRule,
    ThresholdRule,
    Trend,
    ValidityRule,
)

_GOOD = Quality.GOOD
_COMPACT_AFTER = 32
"""Readings gone out of a rate window before the arrays are cut (when half of them are)."""


class DeviceMonitor(Monitor):
    """A rule on one point of one device."""

    __slots__ = ("device",)

    def __init__(
        self,
        source: AlarmSource,
        rule: StateRule | ThresholdRule | RateRule | ValidityRule,
        device: DeviceInfo,
    ) -> None:
        super().__init__(source, rule)
        self.device = device

    def observe(self, reading: Reading, now: float) -> bool | None:
        """Feed one reading of the watched point; returns the alarm condition if it changed."""
        raw = self.condition(reading, now)
        if raw is None:
            return None
        if raw:
            value = reading.value
            self.value = value if value is not None else reading.detail
            self.observed_at = reading.observed_at
        return self.timer.update(raw, now)

    def condition(self, reading: Reading, now: float) -> bool | None:
        """Whether this reading shows the condition; None when it says nothing about it."""
        raise NotImplementedError

    def describe(self) -> str:
        """What is wrong, for the message: "in fire", "pressure below minimum: 0.06 MPa"."""
        return self.text

    def message(self) -> str:
        return f"{self.device.subject} {self.describe()}{self.device.place}"


@functools.cache
def _states(states: tuple[Value, ...]) -> frozenset[Value]:
    """One set of states per rule, shared by its monitors of every device (a site of a
    thousand detectors has thousands of state monitors)."""
    return frozenset(states)


class StateMonitor(DeviceMonitor):
    """The point reports one of the rule's states (status fire, recording false)."""

    __slots__ = ("states",)

    def __init__(self, rule: StateRule, device: DeviceInfo) -> None:
        super().__init__(device_source(rule, device), rule, device)
        self.states = _states(rule.states)

    def condition(self, reading: Reading, now: float) -> bool | None:
        if reading.quality is not _GOOD:
            return None
        return reading.value in self.states


class ThresholdMonitor(DeviceMonitor):
    """The value is beyond the limit; the deadband holds the condition on the way in and out.

    A Schmitt trigger: the condition starts when the value goes strictly beyond `limit`, and
    only a value back past limit +- deadband ends it, whether the alarm is already active or
    its on-delay is still counting. So a pressure oscillating 0.095/0.105 MPa around a 0.10
    MPa minimum keeps one on-delay running and raises one alarm after it, instead of
    restarting the on-delay at every reading above the minimum and never raising (or, once
    raised, clearing and raising again).
    """

    __slots__ = ("below", "clear_at", "limit", "unit")

    def __init__(self, rule: ThresholdRule, device: DeviceInfo) -> None:
        super().__init__(device_source(rule, device), rule, device)
        scale = 1.0
        if rule.nominal is not None:
            scale = device.nominal.get(rule.point, rule.nominal)
        self.below = rule.direction is Direction.BELOW
        self.limit = rule.limit * scale
        deadband = rule.deadband * scale
        # rounded so that 0.10 + 0.02 is 0.12, not 0.12000000000000001
        self.clear_at = round(self.limit + deadband if self.below else self.limit - deadband, 9)
        self.unit = f" {rule.unit}" if rule.unit else ""

    def condition(self, reading: Reading, now: float) -> bool | None:
        value = reading.value
        if reading.quality is not _GOOD or not _is_number(value):
            return None
        limit = self.clear_at if self.timer.raw else self.limit
        return value < limit if self.below else value > limit

    def describe(self) -> str:
        if self.value is None:
            return self.text
        value, limit = _number(self.value), _number(self.limit)
        return f"{self.text}: {value}{self.unit} (limit {limit}{self.unit})"


class RateMonitor(DeviceMonitor):
    """The value moves faster than the rate (units per minute) over a sliding window.

    The rate is the net change from the oldest reading inside the window to the newest, and
    it is judged only once the readings span at least half the window. The condition then
    needs the rule's on-delay to raise: a dip that comes back (a pump start, a valve
    operation) ends the condition the moment the value is back, so it never outlasts the
    on-delay, while a fall that stays keeps the net change up for the whole window. The
    deadband (units per minute) holds the condition on the way in and out, as for a
    threshold: it starts above `rate` and ends only below rate - deadband.
    """

    __slots__ = (
        "clear_below",
        "falling",
        "measured",
        "oldest",
        "rate",
        "times",
        "unit",
        "values",
        "window",
    )

    def __init__(self, rule: RateRule, device: DeviceInfo) -> None:
        super().__init__(device_source(rule, device), rule, device)
        self.falling = rule.trend is Trend.FALLING
        self.rate = rule.rate
        self.clear_below = round(rule.rate - rule.deadband, 9)
        self.window = rule.window
        self.unit = rule.unit or "units"
        self.measured = 0.0
        self.times = array("d")
        self.values = array("d")
        """The window's readings, oldest first from index `oldest`: two arrays of plain
        doubles, 16 bytes a reading where a deque of (time, value) tuples took about 130 (a
        minute of one-second readings from the 350 hydrants of 10x the reference site, two
        rate rules each, was 5 MB)."""
        self.oldest = 0

    def condition(self, reading: Reading, now: float) -> bool | None:
        value = reading.value
        if reading.quality is not _GOOD or not _is_number(value):
            return None
        times, values = self.times, self.values
        times.append(now)
        values.append(value)
        horizon, oldest = now - self.window, self.oldest
        while times[oldest] < horizon:
            oldest += 1
        if oldest >= _COMPACT_AFTER and 2 * oldest >= len(times):  # drop what left the window
            del times[:oldest], values[:oldest]
            oldest = 0
        self.oldest = oldest
        span = now - times[oldest]
        if span < self.window / 2:
            return None
        self.measured = (value - values[oldest]) * 60.0 / span
        speed = -self.measured if self.falling else self.measured
        return speed > (self.clear_below if self.timer.raw else self.rate)

    def describe(self) -> str:
        rate = f"{_number(abs(self.measured))} {self.unit}/min"
        return f"{self.text}: {rate} over {self.window:g} s (limit {_number(self.rate)})"


class ValidityMonitor(DeviceMonitor):
    """Readings of the point arrive with a quality that marks the signal itself as invalid."""

    __slots__ = ("qualities",)

    def __init__(self, rule: ValidityRule, device: DeviceInfo) -> None:
        super().__init__(device_source(rule, device), rule, device)
        self.qualities = frozenset(rule.qualities)

    def condition(self, reading: Reading, now: float) -> bool | None:
        quality = reading.quality
        if quality in self.qualities:
            return True
        return False if quality is _GOOD else None

    def describe(self) -> str:
        return f"{self.text}: {self.value}" if self.value is not None else self.text


def _is_number(value: object) -> TypeGuard[float]:
    """An int or a float, not a bool (a bool is an int to Python, not to a pressure rule)."""
    return type(value) is float or type(value) is int


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
