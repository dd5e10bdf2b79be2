"""Which code each alarm sends to the centre: the default table, and the site's changes to it.

Each rule sends, for each transition (raised, restored, reset), a SIA DC-03 event code and an
Ademco Contact ID event (E = new event, R = restore), as a pair `[SIA, Contact ID]`; which of
the two goes on the wire is the uplink's `format`. A rule without an entry here is coded by
its alarm class; `None` is a rule the centre is not told about. docs/uplink.md has the table.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config import RuleCodes
from rules import AlarmClass

__all__ = ["BY_CLASS", "DEFAULT_CODES", "CodeBook"]


def _codes(
    raised: tuple[str, str],
    restored: tuple[str, str] | None = None,
    reset: tuple[str, str] | None = None,
) -> RuleCodes:
    return RuleCodes(raised=raised, restored=restored, reset=reset)


_RESET = ("FC", "E406")  # a person reset it: SIA fire cancel, Contact ID cancel
_GATEWAY = _codes(("YX", "E300"), ("YZ", "R300"))  # system trouble: service required

DEFAULT_CODES: Mapping[str, RuleCodes | None] = {
    # fire: a detector in fire (Contact ID 111 smoke), two of one zone (110 fire)
    "fire": _codes(("FA", "E111"), ("FH", "R111"), _RESET),
    "confirmed_fire": _codes(("FA", "E110"), ("FH", "R110"), _RESET),
    "pre_alarm": None,  # a warning for the building's staff, not a fire for the centre
    # the fire system's troubles and disablements
    "detector_fault": _codes(("FT", "E373"), ("FJ", "R373")),  # fire trouble
    "detector_isolated": _codes(("FB", "E571"), ("FU", "R571")),  # fire bypass
    "detector_maintenance": _codes(("FT", "E393"), ("FJ", "R393")),  # detector needs cleaning
    "comms_lost": _codes(("FT", "E382"), ("FJ", "R382")),  # loss of supervision of a point
    "signal_invalid": _codes(("FT", "E380"), ("FJ", "R380")),  # sensor trouble
    "out_of_service": _codes(("FB", "E571"), ("FU", "R571")),  # taken out of service
    # supervisory: hydrant water pressure (Contact ID 201 low water pressure)
    "pressure_low": _codes(("FS", "E201"), ("FV", "R201")),
    "pressure_falling": _codes(("FS", "E201"), ("FV", "R201")),
    "pressure_high": _codes(("FS", "E200"), ("FV", "R200")),
    # the connections the gateway watches, and the gateway itself
    "link_lost": _codes(("ET", "E330"), ("ER", "R330")),  # system peripheral trouble
    "history_not_stored": _GATEWAY,
    "outbox_nearly_full": _GATEWAY,
    "outbox_replaced": _GATEWAY,
    "alarm_store_replaced": _GATEWAY,
    "disk_full": _GATEWAY,
    "storage_failing": _GATEWAY,
    "duplicate_gateway": _GATEWAY,
    "uplink_down": _codes(("YC", "E354"), ("YK", "R354")),  # failure to communicate
}

BY_CLASS: Mapping[AlarmClass, RuleCodes | None] = {
    AlarmClass.FIRE: _codes(("FA", "E110"), ("FH", "R110"), _RESET),
    AlarmClass.SUPERVISORY: _codes(("FS", "E200"), ("FV", "R200")),
    AlarmClass.SECURITY: _codes(("TA", "E137"), ("TR", "R137")),  # tamper
    AlarmClass.TROUBLE: _codes(("UT", "E380"), ("UJ", "R380")),
    AlarmClass.MAINTENANCE: None,
}
"""For a rule the table above does not name: a site's `rules.extra`, the cameras' rules."""


class CodeBook:
    """The codes of a site: the defaults with the site's `uplink.codes` over them (an entry
    there replaces the rule's entry whole; `off` sends nothing for the rule)."""

    def __init__(self, site_codes: Mapping[str, RuleCodes | None] | None = None) -> None:
        self._codes: dict[str, RuleCodes | None] = {**DEFAULT_CODES, **(site_codes or {})}

    def of(self, rule: str, alarm_class: AlarmClass) -> RuleCodes | None:
        """What alarms of `rule` send, or None when the centre is not told of them."""
        if rule in self._codes:
            return self._codes[rule]
        return BY_CLASS[alarm_class]
