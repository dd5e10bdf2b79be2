"""An outage's backlog, built as the gateway would have stored it (for bench/drain.py).

`--minutes` of a site's readings: every point of every device's profile at each device's poll
interval, each device at its own phase, timestamps spread over the minutes before now, each
line encoded by `gateway.outbox.lineprotocol` under the device's tags, appended through a real
`Outbox` in batches of `APPEND_BATCH`. The time spent in `append` gives the append rate.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.throughput import device_points
from core.reading import Reading
from gateway.config import Site
from gateway.outbox import Outbox
from gateway.outbox.lineprotocol import encode_point, series_key

__all__ = ["APPEND_BATCH", "Backlog", "build_backlog", "device_series"]

APPEND_BATCH = 100_000
WINDOW_S = 10
"""The backlog is generated in windows of this many seconds, every device in each."""


@dataclass(frozen=True)
class DeviceSeries:
    """One device as the backlog writes it: its series key and what each poll delivers."""

    device: str
    measurement: str
    series: str
    interval_ns: int
    phase_ns: int
    points: tuple[tuple[str, Any, str | None], ...]


@dataclass
class Backlog:
    """The generated outbox file and what went into it."""

    path: Path
    from_ns: int
    to_ns: int
    lines: int = 0
    last_id: int = 0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(measurement, field) -> values generated."""
    encode_s: float = 0.0
    append_s: float = 0.0
    build_s: float = 0.0

    def figures(self) -> dict[str, Any]:
        """What the results say about the backlog: its size, the append rate, the fields."""
        return {
            "lines": self.lines,
            "last_id": self.last_id,
            "from_ns": self.from_ns,
            "to_ns": self.to_ns,
            "minutes": round((self.to_ns - self.from_ns) / 60e9, 2),
            "file_bytes": self.path.stat().st_size,
            "bytes_per_line": round(self.path.stat().st_size / max(1, self.lines), 1),
            "append_batch": APPEND_BATCH,
            "append_s": round(self.append_s, 3),
            "append_lines_per_s": round(self.lines / self.append_s),
            "encode_s": round(self.encode_s, 3),
            "build_s": round(self.build_s, 3),
            "build_lines_per_s": round(self.lines / self.build_s),
            "fields": {f"{m}.{f}": n for (m, f), n in sorted(self.counts.items())},
        }


def device_series(site: Site) -> list[DeviceSeries]:
    """Every device of `site` with its tags encoded once, as `ReadingRecorder` does; each device's
    polls start at its own phase of the interval, as independent poll loops would."""
    points = dict(device_points(site))
    devices = site.config.devices
    result = []
    for number, device in enumerate(devices):
        interval = round(site.poll_interval(device) * 1e9)
        result.append(
            DeviceSeries(
                device.id,
                device.kind.value,
                series_key(device.kind.value, site.tags(device)),
                interval,
                interval * number // len(devices),
                points[device.id],
            )
        )
    return result


def window_lines(
    devices: Sequence[DeviceSeries],
    start: int,
    begin: int,
    end: int,
    counts: Counter[tuple[str, str]],
) -> list[str]:
    """The lines of every poll observed in [begin, end); polls fall at start + phase + k *
    interval. Counts each value in `counts`."""
    lines = []
    for device in devices:
        first = start + device.phase_ns
        k = max(0, -(-(begin - first) // device.interval_ns))
        for observed_at in range(first + k * device.interval_ns, end, device.interval_ns):
            for point, value, unit in device.points:
                reading = Reading(device.device, point, value, unit=unit, observed_at=observed_at)
                lines.append(encode_point(device.series, reading))
        polls = len(range(first + k * device.interval_ns, end, device.interval_ns))
        for point, _, _ in device.points:
            counts[(device.measurement, point)] += polls
    return lines


def backlog_windows(devices: Sequence[DeviceSeries], backlog: Backlog) -> Iterator[list[str]]:
    """The backlog's lines, window after window, oldest first."""
    step = WINDOW_S * 10**9
    for begin in range(backlog.from_ns, backlog.to_ns, step):
        yield window_lines(
            devices, backlog.from_ns, begin, min(begin + step, backlog.to_ns), backlog.counts
        )


async def build_backlog(site: Site, path: Path, minutes: float) -> Backlog:
    """Write `minutes` of `site`'s readings, ending now, into a new outbox at `path`."""
    now = time.time_ns()
    backlog = Backlog(path, now - round(minutes * 60e9), now)
    devices = device_series(site)
    began = time.perf_counter()
    async with Outbox(path, sinks=()) as outbox:
        pending: list[str] = []
        windows = backlog_windows(devices, backlog)
        while True:
            encoding = time.perf_counter()
            window = next(windows, None)
            backlog.encode_s += time.perf_counter() - encoding
            if window is not None:
                pending.extend(window)
            if pending and (window is None or len(pending) >= APPEND_BATCH):
                await _append(outbox, pending, backlog)
                pending = []
            if window is None:
                break
        backlog.last_id = await outbox.accepted()
    backlog.build_s = time.perf_counter() - began
    return backlog


async def _append(outbox: Outbox, lines: list[str], backlog: Backlog) -> None:
    appending = time.perf_counter()
    await outbox.append(lines)
    backlog.append_s += time.perf_counter() - appending
    backlog.lines += len(lines)
    if backlog.lines // 2_000_000 != (backlog.lines - len(lines)) // 2_000_000:
        print(f"  {backlog.lines:,} lines", flush=True)
