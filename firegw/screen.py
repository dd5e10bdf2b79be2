"""The demo's live screen: readings per building and device kind, and the latest state changes."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence

from gateway.health import GroupSummary, SiteActivity, is_normal
from rules import Alarm, AlarmState, DeviceKind, Priority

_COLUMNS = (
    (DeviceKind.SMOKE_DETECTOR, "SMOKE DETECTORS"),
    (DeviceKind.HYDRANT_PRESSURE, "HYDRANT PRESSURE"),
    (DeviceKind.CAMERA, "CAMERAS"),
)
_BUILDING_WIDTH = 42
_CELL_WIDTH = 28


_MAX_ALARMS = 14


def render(
    activity: SiteActivity,
    alarms: Sequence[Alarm],
    *,
    header: str,
    stored: int,
    health: Mapping[str, int],
    color: bool,
) -> str:
    """One screenful: a header, buildings by device kind, the alarms, and recent changes.

    `health` counts the devices by health state (`gateway.health.devices.count_states`).
    """
    states = ", ".join(f"{n} {state}" for state, n in health.items() if n) or "none yet"
    lines = [
        header,
        f"{activity.total:,} readings received, {stored:,} stored in the outbox; "
        f"device health: {states}",
        "",
    ]
    lines.append(
        "BUILDING".ljust(_BUILDING_WIDTH)
        + "".join(title.ljust(_CELL_WIDTH) for _, title in _COLUMNS)
    )
    for building in activity.site.config.buildings:
        label = f"{building.name} ({building.id})"[: _BUILDING_WIDTH - 2]
        cells = (_cell(kind, activity.summary(building.id, kind), color) for kind, _ in _COLUMNS)
        lines.append(label.ljust(_BUILDING_WIDTH) + "".join(cells))
    waiting = sum(1 for alarm in alarms if alarm.needs_person)
    lines += ["", f"ALARMS ({len(alarms)}, {waiting} need a person)"]
    lines += list(_alarm_lines(alarms, color)) or ["  none"]
    lines += ["", "LATEST STATE CHANGES"]
    lines += list(_changes(activity, color)) or ["  none yet"]
    return "\n".join(lines)


def _cell(kind: DeviceKind, group: GroupSummary, color: bool) -> str:
    if group.devices == 0:
        return "-".ljust(_CELL_WIDTH)
    text = f"{group.reporting}/{group.devices} up"
    if kind is DeviceKind.HYDRANT_PRESSURE and group.lowest is not None:
        text += f", min {group.lowest:.2f} MPa"
    if group.not_normal:
        alert = f", {len(group.not_normal)} not normal"
        return (text + _paint(alert, color)).ljust(_CELL_WIDTH + (9 if color else 0))
    return text.ljust(_CELL_WIDTH)


def _alarm_lines(alarms: Sequence[Alarm], color: bool) -> Iterator[str]:
    """Most urgent first, and within a priority those that need a person: a person's eye
    goes to the top line. Urgent alarms that need a person are painted."""
    ordered = sorted(
        alarms, key=lambda alarm: (alarm.priority.rank, not alarm.needs_person, -alarm.raised_at)
    )
    for alarm in ordered[:_MAX_ALARMS]:
        clock = time.strftime("%H:%M:%S", time.localtime(alarm.raised_at / 1e9))
        escalation = f" ESCALATED {alarm.escalation_level}" if alarm.escalation_level else ""
        line = (
            f"  {clock}  {alarm.priority.upper():<8} {alarm.zone:<16} "
            f"{alarm.message}  [{_STATES[alarm.state]}{_reset_needed(alarm)}{escalation}]"
        )
        urgent = alarm.priority in (Priority.CRITICAL, Priority.HIGH)
        yield _paint(line, color) if urgent and alarm.needs_person else line
    if len(ordered) > _MAX_ALARMS:
        yield f"  ... and {len(ordered) - _MAX_ALARMS} more"


_STATES = {
    AlarmState.NORMAL: "normal",
    AlarmState.UNACKNOWLEDGED: "NOT ACKNOWLEDGED",
    AlarmState.ACKNOWLEDGED: "acknowledged",
    AlarmState.RETURNED_UNACKNOWLEDGED: "cleared, not acknowledged",
}


def _reset_needed(alarm: Alarm) -> str:
    """A latched alarm whose condition has gone still needs a person: it waits for a reset."""
    if alarm.needs_person and alarm.latched and not alarm.active:
        return ", RESET NEEDED: condition gone"
    return ""


def _changes(activity: SiteActivity, color: bool) -> Iterator[str]:
    offset = time.time() - time.monotonic()
    for change in reversed(activity.changes):
        clock = time.strftime("%H:%M:%S", time.localtime(change.at + offset))
        what = f"{change.device:<14} {change.point:<12}"
        line = f"  {clock}  {what} {change.before} -> {change.after}"
        yield line if is_normal(change.point, change.after) else _paint(line, color)


def _paint(text: str, color: bool) -> str:
    return f"\033[1;31m{text}\033[0m" if color else text
