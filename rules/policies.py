"""How people respond to alarms: escalation deadlines, shelving limits, chattering and staleness."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.model import AlarmClass, Priority
from rules.specs import Window


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EscalationPolicy(_Policy):
    """The security office's response rule: 1 minute to respond, 3 on site, 5 to contain.

    An alarm of one of `priorities` escalates to level 1 when nobody has acknowledged it within
    `acknowledge`, to level 2 when nobody is marked on site within `on_site`, and to level 3
    when its condition is still present after `contain`, each counted from when it was raised.
    Low and medium priorities (maintenance, degraded video) are left out by default so the
    escalation chain is kept for hazards.
    """

    acknowledge: Window = 60.0
    on_site: Window = 180.0
    contain: Window = 300.0
    priorities: tuple[Priority, ...] = (Priority.CRITICAL, Priority.HIGH)

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if not self.acknowledge <= self.on_site <= self.contain:
            raise ValueError(
                f"escalation times must not decrease: acknowledge {self.acknowledge:g} s, "
                f"on_site {self.on_site:g} s, contain {self.contain:g} s"
            )
        return self

    def deadline(self, level: int) -> float:
        """Seconds after raising at which `level` (1-3) is due."""
        return (self.acknowledge, self.on_site, self.contain)[level - 1]


class ShelvingPolicy(_Policy):
    """Shelving always has an expiry, at most `max_duration` (60 minutes by default).

    Alarms of the classes in `never` cannot be shelved: a fire alarm is silenced by putting the
    detector out of service (for a test or maintenance), never by shelving it.
    """

    max_duration: Window = 3600.0
    never: tuple[AlarmClass, ...] = (AlarmClass.FIRE,)
    cooldown: Window = 3600.0
    """After a shelf expires, shelving the alarm again within this time needs a role allowed
    to re-shelve (a supervisor by default): otherwise a shelf renewed the moment it expired
    would make the maximum no limit."""


class OutOfServicePolicy(_Policy):
    """Out of service always ends: after the command's `duration`, at most `max_duration`.

    While a device is out of service its alarms are held back (stored, not announced), a
    trouble alarm `out_of_service:<device>` says so on the feed, and a fire it reports is
    still raised at once, marked out of service.
    """

    max_duration: Window = 28800.0


class ChatteringPolicy(_Policy):
    """ISA-18.2: an alarm that activates `activations` times within `window` is chattering."""

    activations: Annotated[int, Field(ge=2, le=1000)] = 3
    window: Window = 60.0
