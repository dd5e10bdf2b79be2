"""The demo's live screen, one 80x24 terminal: the buildings by device kind, the alarms most
urgent first, and the latest state changes; what the scenario injected is marked as such."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence

from gateway.health import GroupSummary, SiteActivity, is_normal
from rules import Alarm, AlarmState, DeviceKind, Priority

WIDTH, HEIGHT = 80, 24
"""The terminal the screen must fit: the classic size, and what a serial console gives."""

_COLUMNS = (
    (DeviceKind.SMOKE_DETECTOR, "DETECTORS", 20),
    (DeviceKind.HYDRANT_PRESSURE, "HYDRANTS", 20),
    (DeviceKind.CAMERA, "CAMERAS", 16),
)
_BUILDING_WIDTH = WIDTH - sum(width for _, _, width in _COLUMNS)
_CHANGES_AT_LEAST = 2
INJECTED = " (injected)"
"""The mark of a device the demo's scenario made faulty, so nobody takes it for a real one."""


def render(
    activity: SiteActivity,
    alarms: Sequence[Alarm],
    *,
    header: Sequence[str],
    stored: int,
    health: Mapping[str, int],
    color: bool,
    injected: Mapping[str, str] | None = None,
) -> str:
    """One screenful of at most `HEIGHT` lines of at most `WIDTH` characters (colour codes
    aside; the `header`'s lines are the caller's to keep short). `health` counts the devices
    by health state; `injected` names the devices the scenario has made faulty so far, with
    the fault."""
    injected = injected or {}
    states = ", ".join(f"{n} {state}" for state, n in health.items() if n) or "none yet"
    lines = [*header, f"{activity.total:,} readings, {stored:,} in the outbox; devices: {states}"]
    lines.append(
        "BUILDING".ljust(_BUILDING_WIDTH)
        + "".join(title.ljust(width) for _, title, width in _COLUMNS)
    )
    for building in activity.site.config.buildings:
        label = f"{building.id} {building.name}"[: _BUILDING_WIDTH - 1]
        cells = (
            _cell(kind, activity.summary(building.id, kind), width, color)
            for kind, _, width in _COLUMNS
        )
        lines.append(label.ljust(_BUILDING_WIDTH) + "".join(cells))
    if injected:
        faults = ", ".join(f"{fault} {device}" for device, fault in injected.items())
        lines.append(_fit(f"INJECTED BY THE SCENARIO: {faults}"))
    waiting = sum(1 for alarm in alarms if alarm.needs_person)
    room = HEIGHT - len(lines) - 2 - (1 + _CHANGES_AT_LEAST)
    lines.append(f"ALARMS ({len(alarms)}, {waiting} need a person)")
    lines += list(_alarm_lines(alarms, color, injected, room)) or ["  none"]
    changes = HEIGHT - len(lines) - 1
    lines.append("LATEST STATE CHANGES")
    lines += list(_changes(activity, color, injected, changes)) or ["  none yet"]
    # The header is never cut: it holds a command to copy, better wrapped than broken.
    body = (_fit(line) if "\033" not in line else line for line in lines[len(header) :])
    return "\n".join([*header, *body])


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 3] + "..."


def _cell(kind: DeviceKind, group: GroupSummary, width: int, color: bool) -> str:
    if group.devices == 0:
        return "-".ljust(width)
    text = f"{group.reporting}/{group.devices} up"
    if kind is DeviceKind.HYDRANT_PRESSURE and group.lowest is not None:
        text += f" {group.lowest:.2f}MPa"
    if not group.not_normal:
        return text.ljust(width)
    alert = f" {len(group.not_normal)}!"
    return text + _paint(alert, color) + " " * max(0, width - len(text) - len(alert))


def _alarm_lines(
    alarms: Sequence[Alarm], color: bool, injected: Mapping[str, str], room: int
) -> Iterator[str]:
    """Most urgent first, and within a priority those that need a person: a person's eye
    goes to the top line. Urgent alarms that need a person are painted."""
    ordered = sorted(
        alarms, key=lambda alarm: (alarm.priority.rank, not alarm.needs_person, -alarm.raised_at)
    )
    shown = ordered if len(ordered) <= room else ordered[: max(1, room - 1)]
    for alarm in shown:
        clock = time.strftime("%H:%M:%S", time.localtime(alarm.raised_at / 1e9))
        escalation = f" ESC{alarm.escalation_level}" if alarm.escalation_level else ""
        state = f"[{_STATES[alarm.state]}{_reset_needed(alarm)}{escalation}]"
        mark = INJECTED if alarm.device in injected else ""
        start = f"{clock} {alarm.priority.upper():<8} "
        room_for_text = max(8, WIDTH - len(start) - len(state) - 1)
        # The alarm id first (what `firegw ack` takes), so that it is cut last.
        text = f"{alarm.id} {alarm.zone}"[: room_for_text - len(mark)] + mark
        line = f"{start}{text.ljust(room_for_text)} {state}"
        urgent = alarm.priority in (Priority.CRITICAL, Priority.HIGH)
        yield _paint(_fit(line), color) if urgent and alarm.needs_person else _fit(line)
    if len(shown) < len(ordered):
        yield f"  ... and {len(ordered) - len(shown)} more (all of them: the console)"


_STATES = {
    AlarmState.NORMAL: "normal",
    AlarmState.UNACKNOWLEDGED: "NOT ACKNOWLEDGED",
    AlarmState.ACKNOWLEDGED: "acknowledged",
    AlarmState.RETURNED_UNACKNOWLEDGED: "cleared, NOT ACKNOWLEDGED",
}


def _reset_needed(alarm: Alarm) -> str:
    """A latched alarm whose condition has gone still needs a person: it waits for a reset."""
    if alarm.needs_person and alarm.latched and not alarm.active:
        return ", RESET NEEDED"
    return ""


def _changes(
    activity: SiteActivity, color: bool, injected: Mapping[str, str], room: int
) -> Iterator[str]:
    offset = time.time() - time.monotonic()
    for change in list(reversed(activity.changes))[: max(room, 1)]:
        clock = time.strftime("%H:%M:%S", time.localtime(change.at + offset))
        mark = INJECTED if change.device in injected else ""
        what = f"{change.device:<13} {change.point:<11} {change.before} -> {change.after}"
        line = _fit(f"{clock} {what}{mark}")
        yield line if is_normal(change.point, change.after) else _paint(line, color)


def _paint(text: str, color: bool) -> str:
    return f"\033[1;31m{text}\033[0m" if color else text
