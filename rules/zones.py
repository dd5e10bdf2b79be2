"""Zone rules: conditions of one zone made of the alarms of several devices in it.

- Coincidence: two independent detectors of one zone in fire within 60 s make a confirmed fire
  (GB 50116-2013 4.1.6 wants this AND before any linkage action).
- Blind spot: a camera of the zone that is offline, not recording, without video or silent
  leaves part of the zone unwatched (the site's camera coverage must be 100 %).
"""

from __future__ import annotations

from rules.monitor import Monitor, ZoneMonitor, zone_source
from rules.specs import BlindSpotRule, CoincidenceRule


class CoincidenceMonitor(ZoneMonitor):
    """Counts distinct devices whose `source` alarm activated within the window.

    Once confirmed, the condition stays while any device of the zone is still in fire.
    A device out of service (a detector under test) does not count.
    """

    __slots__ = ("count", "in_fire", "recent", "source_text", "window")

    counts_out_of_service = False

    def __init__(self, rule: CoincidenceRule, zone: str, building: str, source_text: str) -> None:
        super().__init__(zone_source(rule, zone, building), rule)
        self.count = rule.count
        self.window = rule.window
        self.source_text = source_text
        self.recent: dict[str, float] = {}
        """Device -> monotonic time of its latest activation."""
        self.in_fire: set[str] = set()

    def member_changed(
        self, member: Monitor, active: bool, now: float, restoring: bool = False
    ) -> bool | None:
        device = member.source.device or ""
        if not active:
            self.in_fire.discard(device)
            return self.timer.update(self.timer.raw and bool(self.in_fire), now)
        self.in_fire.add(device)
        if restoring:
            return None
        self.recent[device] = now
        self.observed_at = member.observed_at
        return self.timer.update(self.timer.raw or self._confirmed(now), now)

    def reconsider(self, now: float) -> bool | None:
        return self.timer.update(self.timer.raw and bool(self.in_fire), now)

    def _confirmed(self, now: float) -> bool:
        horizon = now - self.window
        for device in [d for d, at in self.recent.items() if at < horizon]:
            del self.recent[device]
        self.value = len(self.recent)
        return len(self.recent) >= self.count

    def message(self) -> str:
        devices = ", ".join(sorted(self.recent))
        return (
            f"{self.text.capitalize()} in zone {self.zone}: {devices} {self.source_text} "
            f"within {self.window:g} s"
        )

    def raise_cause(self) -> str:
        return f"{len(self.recent)} devices {self.source_text} within {self.window:g} s"

    def clear_cause(self) -> str:
        return f"no device of the zone {self.source_text} any more"


class BlindSpotMonitor(ZoneMonitor):
    """Active while the zone's `cameras` are blind (each has a cause alarm active): all of
    them, or any one, as the rule's `blind_when` says."""

    __slots__ = ("blind", "cameras", "needed")

    def __init__(self, rule: BlindSpotRule, zone: str, building: str, cameras: int) -> None:
        super().__init__(zone_source(rule, zone, building), rule)
        self.blind: dict[str, dict[str, str]] = {}
        """Camera -> {cause rule: its text} for every camera that is blind now."""
        self.cameras = cameras
        self.needed = 1 if rule.blind_when == "any_camera_blind" else max(cameras, 1)
        """How many blind cameras make the zone blind."""

    def member_changed(
        self, member: Monitor, active: bool, now: float, restoring: bool = False
    ) -> bool | None:
        camera = member.source.device or ""
        causes = self.blind.setdefault(camera, {})
        if active:
            causes[member.source.rule] = member.text
            self.observed_at = member.observed_at
        else:
            causes.pop(member.source.rule, None)
            if not causes:
                del self.blind[camera]
        self.value = len(self.blind)
        return self.timer.update(self.is_blind, now)

    @property
    def is_blind(self) -> bool:
        return len(self.blind) >= self.needed

    def reconsider(self, now: float) -> bool | None:
        return self.timer.update(self.is_blind, now)

    def message(self) -> str:
        cameras = "; ".join(
            f"camera {camera} {', '.join(causes.values())}"
            for camera, causes in sorted(self.blind.items())
        )
        return f"{self.text.capitalize()} in zone {self.zone}: {cameras}"

    def raise_cause(self) -> str:
        return f"{len(self.blind)} camera(s) not watching"

    def clear_cause(self) -> str:
        return "every camera of the zone is watching again"
