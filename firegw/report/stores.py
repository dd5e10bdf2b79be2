"""The history from the gateway's own files, for a site without InfluxDB: alarm events from
the alarm store (`<outbox>-alarms.sqlite`: the newest 100,000 events), readings from the
outbox (which keeps every reading while no database takes them, up to its size cap).

Both are opened read-only, so a report can be made while the gateway runs.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from firegw.report.history import (
    INTERVAL_RULES,
    MARGIN_NS,
    History,
    HistoryError,
    Limits,
    ReadingFigures,
)
from firegw.report.influx import ANSWERING_POINTS
from firegw.report.period import Period
from gateway.outbox import read_lines
from rules import AlarmEvent

__all__ = ["StoreHistory"]

_MINUTE_NS = 60_000_000_000
_DEVICE = re.compile(r",device=([^, ]+)")
_NUMBER = r"(-?[0-9][0-9.eE+-]*)i?(?=[ ,])"


class StoreHistory:
    """Reads a period from the alarm store and the outbox at these paths."""

    def __init__(self, alarm_store: Path, outbox: Path) -> None:
        self.alarm_store = alarm_store
        self.outbox = outbox

    def read(self, period: Period, limits: Limits) -> History:
        """The period's history; raises `HistoryError` for a store that cannot be read."""
        start, end = period.start_ns, period.end_ns
        with _read_only(self.alarm_store) as store:
            events = [
                AlarmEvent.from_dict(json.loads(text))
                for (text,) in store.execute(
                    "SELECT event FROM events WHERE at >= ? AND at < ? ORDER BY at, seq",
                    (start, end + MARGIN_NS),
                )
            ]
            active = _active_at(store, start)
        readings = _readings(self.outbox, start, end, limits) if self.outbox.exists() else None
        return History(
            events=events,
            active_at_start=active,
            readings=readings or ReadingFigures(),
            source=f"the gateway's stores: {self.alarm_store} and {self.outbox}",
            readings_from="stores",
        )


class _read_only:
    """A read-only SQLite connection as a context manager, errors as `HistoryError`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        if not self.path.exists():
            raise HistoryError(f"{self.path}: no such store (has the gateway run here?)")
        try:
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            self.db.execute("SELECT 1 FROM sqlite_master LIMIT 1")
        except sqlite3.Error as error:
            raise HistoryError(f"{self.path}: cannot read: {error}") from None
        return self.db

    def __exit__(self, *exc: object) -> None:
        if self.db is not None:
            self.db.close()


def _active_at(store: sqlite3.Connection, start: int) -> frozenset[str]:
    """The interval alarms (blind spots) whose condition was present at `start`."""
    marks = ",".join("?" for _ in INTERVAL_RULES)
    rows = store.execute(
        "SELECT event FROM events WHERE seq IN (SELECT max(seq) FROM events WHERE at < ? "
        f"AND substr(alarm_id, 1, instr(alarm_id, ':') - 1) IN ({marks}) GROUP BY alarm_id)",
        (start, *INTERVAL_RULES),
    )
    found = (AlarmEvent.from_dict(json.loads(text)) for (text,) in rows)
    return frozenset(event.alarm_id for event in found if event.alarm.active)


def _readings(path: Path, start: int, end: int, limits: Limits) -> ReadingFigures:
    """The readings' figures, worked out minute by minute from the outbox's lines."""
    answered: dict[str, set[int]] = defaultdict(set)
    lowest: dict[tuple[str, int], float] = {}
    highest: dict[tuple[str, int], float] = {}
    retention: dict[str, tuple[float, float]] = {}
    for kind, device, at, line in _lines(path, start, end):
        minute = at // _MINUTE_NS
        if _value(line, ANSWERING_POINTS[kind]) is not None:
            answered[device].add(minute)
        if kind == "hydrant_pressure":
            pressure = _number(line, "pressure")
            if pressure is not None:
                key = (device, minute)
                lowest[key] = min(pressure, lowest.get(key, pressure))
                highest[key] = max(pressure, highest.get(key, pressure))
        elif kind == "camera":
            days = _number(line, "retention_days")
            if days is not None:
                low = retention.get(device, (days, days))[0]
                retention[device] = (min(low, days), days)
    minutes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, low in lowest.items():
        counts = minutes[key[0]]
        counts[1] += 1
        floor, ceiling = limits.get(key[0], (None, None))
        if (floor is None or low >= floor) and (ceiling is None or highest[key] <= ceiling):
            counts[0] += 1
    return ReadingFigures(
        answered={device: len(seen) for device, seen in answered.items()},
        pressure={device: (n[0], n[1]) for device, n in minutes.items()},
        retention=retention,
    )


def _lines(path: Path, start: int, end: int) -> Iterator[tuple[str, str, int, str]]:
    """(kind, device, time, line) of every reading line in the outbox within the period."""
    kinds = tuple(f"{kind}," for kind in ANSWERING_POINTS)
    for _, line in read_lines(path):
        if line.startswith(kinds):
            at = int(line.rsplit(" ", 1)[1])
            device = _DEVICE.search(line)
            if start <= at < end and device is not None:
                yield line.split(",", 1)[0], device.group(1), at, line


def _value(line: str, point: str) -> str | None:
    found = re.search(rf"[ ,]{point}=(\"[^\"]*\"|[^ ,]+)", line)
    return found.group(1) if found else None


def _number(line: str, point: str) -> float | None:
    found = re.search(rf"[ ,]{point}={_NUMBER}", line)
    return float(found.group(1)) if found else None
