"""The demo's live screen: readings per building and device kind, and the latest state changes."""

from __future__ import annotations

import time
from collections.abc import Iterator

from gateway.activity import GroupSummary, SiteActivity, is_normal
from gateway.config import DeviceKind

_COLUMNS = (
    (DeviceKind.SMOKE_DETECTOR, "SMOKE DETECTORS"),
    (DeviceKind.HYDRANT_PRESSURE, "HYDRANT PRESSURE"),
    (DeviceKind.CAMERA, "CAMERAS"),
)
_BUILDING_WIDTH = 42
_CELL_WIDTH = 28


def render(activity: SiteActivity, *, header: str, stored: int, color: bool) -> str:
    """One screenful: a header, a table of buildings by device kind, and recent changes."""
    lines = [header, f"{activity.total:,} readings received, {stored:,} stored in the outbox", ""]
    lines.append("BUILDING".ljust(_BUILDING_WIDTH)
                 + "".join(title.ljust(_CELL_WIDTH) for _, title in _COLUMNS))
    for building in activity.site.config.buildings:
        label = f"{building.name} ({building.id})"[: _BUILDING_WIDTH - 2]
        cells = (_cell(kind, activity.summary(building.id, kind), color) for kind, _ in _COLUMNS)
        lines.append(label.ljust(_BUILDING_WIDTH) + "".join(cells))
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


def _changes(activity: SiteActivity, color: bool) -> Iterator[str]:
    offset = time.time() - time.monotonic()
    for change in reversed(activity.changes):
        clock = time.strftime("%H:%M:%S", time.localtime(change.at + offset))
        what = f"{change.device:<14} {change.point:<12}"
        line = f"  {clock}  {what} {change.before} -> {change.after}"
        yield line if is_normal(change.point, change.after) else _paint(line, color)


def _paint(text: str, color: bool) -> str:
    return f"\033[1;31m{text}\033[0m" if color else text
