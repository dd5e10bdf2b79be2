"""Rule definitions as data: one pydantic model per rule type, validated before any reading.

A rule names the device kind it applies to, the alarm it raises (class, priority, latched)
and its timing. Device rules watch one point of one device; zone rules (coincidence, blind
spot) combine the alarms of several devices in one zone.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeGuard

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    ValidationInfo,
    field_validator,
)

from core import Quality
from rules.model import AlarmClass, DeviceKind, Priority

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> Any:
    """`500ms`, `10s`, `2m`, `1h` or a plain number of seconds -> seconds as a float."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds is None or not math.isfinite(seconds):
        shown = value if len(str(value)) <= 40 else f"{str(value)[:40]}..."
        raise ValueError(f"expected a duration such as 10s or 2m, got {shown!r}")
    return seconds


Delay = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
"""Seconds, 0 allowed; written as `10s`, `1h`, `500ms` or a number of seconds."""
Window = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
"""Seconds, more than 0."""
RuleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=48)]
StateValue = bool | int | str


class Direction(StrEnum):
    """Which side of a threshold limit is the alarm."""

    BELOW = "below"
    ABOVE = "above"


class Trend(StrEnum):
    """Which way a rate-of-change rule watches the value move."""

    FALLING = "falling"
    RISING = "rising"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


LINK = "link"
"""In `held_by`: the connection the device's readings come through (`DeviceInfo.link`)."""


class _Rule(_Spec):
    name: RuleName
    kind: DeviceKind
    text: str = Field(min_length=1, description="what the message says, e.g. 'in fire'")
    alarm_class: AlarmClass
    priority: Priority
    latched: bool = False
    enabled: bool = True
    on_delay: Delay = 0.0
    off_delay: Delay = 0.0
    held_by: tuple[RuleName, ...] = Field(
        default=(),
        description="rules of the same device whose alarm, while active, is the cause of this "
        "one (held back, not announced), or `link` for the device's connection",
    )


class StateRule(_Rule):
    """The point reports one of `states`: detector status fire, camera recording false."""

    type: Literal["state"] = "state"
    point: str
    states: Annotated[tuple[StateValue, ...], Field(min_length=1)]


class ThresholdRule(_Rule):
    """The value is below (or above) `limit`; it must move `deadband` back past it to clear.

    With `nominal` set, `limit` and `deadband` are fractions of the device's nominal value of
    the point (`DeviceInfo.nominal`), falling back to `nominal` itself: a camera's frame rate
    below half of its configured rate.
    """

    type: Literal["threshold"] = "threshold"
    point: str
    direction: Direction
    limit: float
    deadband: Annotated[float, Field(ge=0)] = 0.0
    nominal: Annotated[float, Field(gt=0)] | None = None
    unit: str | None = None


class RateRule(_Rule):
    """The value changes faster than `rate` units per minute, measured over `window`.

    `deadband` (units per minute, less than `rate`) is the hysteresis: once the condition has
    started (on-delay counting, or alarm active) it ends only below `rate - deadband`.
    """

    type: Literal["rate"] = "rate"
    point: str
    trend: Trend = Trend.FALLING
    rate: Annotated[float, Field(gt=0)]
    deadband: Annotated[float, Field(ge=0)] = 0.0
    window: Window = 60.0
    unit: str | None = None

    @field_validator("deadband")
    @classmethod
    def _deadband_below_rate(cls, deadband: float, info: ValidationInfo) -> float:
        rate = info.data.get("rate")
        if rate is not None and deadband >= rate:
            raise ValueError(
                f"the deadband ({deadband:g}) must be less than the rate ({rate:g}), or the "
                "condition could never end"
            )
        return deadband


class ValidityRule(_Rule):
    """Readings of the point come with one of `qualities`: a 4-20 mA loop outside 3.6-21 mA."""

    type: Literal["validity"] = "validity"
    point: str
    qualities: Annotated[tuple[Quality, ...], Field(min_length=1)] = (Quality.OUT_OF_RANGE,)


class SupervisionRule(_Rule):
    """No good reading from the device for its supervision window: communication lost."""

    type: Literal["supervision"] = "supervision"


class CoincidenceRule(_Rule):
    """`count` devices of one zone raise rule `source` within `window`: a confirmed fire."""

    type: Literal["coincidence"] = "coincidence"
    source: RuleName
    count: Annotated[int, Field(ge=2, le=100)] = 2
    window: Window = 60.0


BlindWhen = Literal["no_camera_watching", "any_camera_blind"]


class BlindSpotRule(_Rule):
    """The zone's cameras have `causes` alarms active: the zone has a blind spot.

    `blind_when` says how many: `no_camera_watching` (the default: coverage of the zone is
    lost only when none of its cameras watches; one dark camera of two is that camera's own
    alarm) or `any_camera_blind` (for zones whose cameras each watch a place of their own,
    such as two doors: one dark camera is already a blind spot).
    """

    type: Literal["blind_spot"] = "blind_spot"
    causes: Annotated[tuple[RuleName, ...], Field(min_length=1)]
    blind_when: BlindWhen = "no_camera_watching"


DeviceRule = StateRule | ThresholdRule | RateRule | ValidityRule | SupervisionRule
ZoneRule = CoincidenceRule | BlindSpotRule
RuleSpec = Annotated[DeviceRule | ZoneRule, Discriminator("type")]
"""Any rule; the `type` key says which."""
AnyRule = DeviceRule | ZoneRule
ZONE_RULES = (CoincidenceRule, BlindSpotRule)


class RuleOverride(_Spec):
    """Changes to a rule for one device kind, zone or device; unset fields keep the default.

    Only fields the rule has may be set: `limit` on a state rule is an error, not ignored.
    """

    enabled: bool | None = None
    priority: Priority | None = None
    latched: bool | None = None
    on_delay: Delay | None = None
    off_delay: Delay | None = None
    limit: float | None = None
    deadband: Annotated[float, Field(ge=0)] | None = None
    nominal: Annotated[float, Field(gt=0)] | None = None
    rate: Annotated[float, Field(gt=0)] | None = None
    window: Window | None = None
    count: Annotated[int, Field(ge=2, le=100)] | None = None
    blind_when: BlindWhen | None = None

    def changes(self) -> dict[str, Any]:
        """The fields this override sets."""
        return self.model_dump(exclude_unset=True)


def is_zone_rule(rule: AnyRule) -> TypeGuard[ZoneRule]:
    """Zone rules raise one alarm per zone (`<rule>:<zone>`), not one per device."""
    return isinstance(rule, ZONE_RULES)


def is_device_rule(rule: AnyRule) -> TypeGuard[DeviceRule]:
    """Device rules raise one alarm per device (`<rule>:<device>`)."""
    return not isinstance(rule, ZONE_RULES)
