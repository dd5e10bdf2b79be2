"""The security department's classes of hazard: fire, facility, security.

The gateway's alarm classes follow NFPA 72 (fire, supervisory, security, trouble,
maintenance); the department counts hazards as fire, facility (equipment: hydrant pressure,
faulty or silent detectors and cameras) and security. An alarm's department class is the
site's `report.classes` entry for its rule, else for its alarm class, else the default
below; `none` leaves it out of the hazards (the gateway's own troubles are about the
monitoring, not the site; a disablement is a person's own doing).
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config import HazardClass
from rules import AlarmClass

__all__ = ["DEFAULT_CLASSES", "HAZARD_CLASSES", "HazardClasses"]

DEFAULT_CLASSES: Mapping[str, HazardClass] = {
    str(AlarmClass.FIRE): HazardClass.FIRE,
    str(AlarmClass.SUPERVISORY): HazardClass.FACILITY,
    str(AlarmClass.TROUBLE): HazardClass.FACILITY,
    str(AlarmClass.MAINTENANCE): HazardClass.FACILITY,
    str(AlarmClass.SECURITY): HazardClass.SECURITY,
    "history_not_stored": HazardClass.NONE,
    "outbox_nearly_full": HazardClass.NONE,
    "outbox_replaced": HazardClass.NONE,
    "alarm_store_replaced": HazardClass.NONE,
    "disk_full": HazardClass.NONE,
    "storage_failing": HazardClass.NONE,
    "duplicate_gateway": HazardClass.NONE,
    "out_of_service": HazardClass.NONE,
}
"""Keys are alarm classes and rule names; a rule's entry wins over its class's."""

HAZARD_CLASSES = (HazardClass.FIRE, HazardClass.FACILITY, HazardClass.SECURITY)


class HazardClasses:
    """The department class of each alarm: the defaults with the site's entries over them."""

    def __init__(self, site_entries: Mapping[str, HazardClass] | None = None) -> None:
        self.entries = {**DEFAULT_CLASSES, **(site_entries or {})}
        self._known: dict[tuple[str, AlarmClass], HazardClass] = {}

    def of(self, rule: str, alarm_class: AlarmClass) -> HazardClass:
        known = self._known.get((rule, alarm_class))
        if known is None:
            found = self.entries.get(rule) or self.entries.get(str(alarm_class))
            known = self._known[(rule, alarm_class)] = found or HazardClass.FACILITY
        return known
