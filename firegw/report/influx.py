"""The history from InfluxDB (1.x, or 2.x through its 1.x-compatible query API).

Alarm events are read as they are; the readings are summed up by the server, per device and
minute, so a year of them never crosses the network: from the per-minute measurements the
downsampling writes (`<kind>_1m`, docs/report.md "Storage") when the site names their
retention policy, else from the raw readings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from firegw.report.eventrows import EVENT_FIELDS, EVENT_TAGS, EventRows
from firegw.report.history import (
    INTERVAL_RULES,
    MARGIN_NS,
    History,
    HistoryError,
    Limits,
    ReadingFigures,
)
from firegw.report.influxql import InfluxQL, quoted, string_literal
from firegw.report.period import Period
from gateway.alarms import MEASUREMENT
from rules import AlarmEvent

__all__ = ["ANSWERING_POINTS", "InfluxHistory"]

ANSWERING_POINTS = {"smoke_detector": "status", "hydrant_pressure": "pressure", "camera": "online"}
"""The point whose good readings say that a device of each kind answered."""
PARALLEL_QUERIES = 3
SLICE_NS = 31 * 86_400 * 1_000_000_000
"""Events are asked for a month at a time, three months at once."""
_LOOKBACK_NS = 366 * 86_400 * 1_000_000_000
"""How far before the period the state of the interval alarms is looked for."""


@dataclass(frozen=True)
class Places:
    """Retention policies: of the alarm events, of the raw readings, of the per-minute
    readings (None: work them out from the raw ones)."""

    events: str | None = None
    readings: str | None = None
    downsampled: str | None = None


class InfluxHistory:
    """Reads a period from one database (see the module docstring)."""

    def __init__(self, client: InfluxQL, places: Places) -> None:
        self.client = client
        self.places = places

    def read(self, period: Period, limits: Limits) -> History:
        """The period's history; raises `HistoryError` when the server cannot answer."""
        start, end = period.start_ns, period.end_ns
        events = list(self._events(start, end + MARGIN_NS))
        source = f"InfluxDB {self.client.shown_url}, database {self.client.database}"
        return History(
            events=events,
            active_at_start=self._active_at(start),
            readings=self._readings(start, end, limits),
            source=source,
            readings_from="downsampled" if self.places.downsampled else "raw",
        )

    def _from(self, measurement: str, policy: str | None) -> str:
        return f"{quoted(policy)}.{quoted(measurement)}" if policy else quoted(measurement)

    def _events(self, start: int, end: int) -> list[AlarmEvent]:
        """The events, asked for a month at a time, a few months at once: the server reads
        the next slices on its cores while this process turns the rows that came into events.
        """
        slices = list(_slices(start, end))
        with ThreadPoolExecutor(max_workers=PARALLEL_QUERIES) as pool:
            parts = list(pool.map(lambda bounds: self._slice(*bounds), slices))
        return sorted((event for part in parts for event in part), key=_time)

    def _slice(self, start: int, end: int) -> list[AlarmEvent]:
        query = (
            f"SELECT {', '.join(EVENT_FIELDS)} FROM {self._from(MEASUREMENT, self.places.events)}"
            f" WHERE time >= {start} AND time < {end} GROUP BY {', '.join(EVENT_TAGS)}"
        )
        rows: list[tuple[EventRows, list[Any]]] = []
        for reader, values in self._series(query):
            rows.extend((reader, reader.row(row)) for row in values)
        rows.sort(key=_row_time)
        previous: dict[str, AlarmEvent] = {}
        events = []
        for reader, row in rows:
            try:
                event = reader.event(row, previous.get(row[1]))
            except ValueError as error:
                raise HistoryError(f"InfluxDB {self.client.shown_url}: {error}") from None
            previous[event.alarm_id] = event
            events.append(event)
        return events

    def _series(self, query: str) -> Iterator[tuple[EventRows, list[list[Any]]]]:
        """Each series of `alarm_event` the query returns, with its reader."""
        for tags, columns, values in self.client.series(query):
            try:
                yield EventRows(columns, tags), values
            except ValueError as error:
                raise HistoryError(f"InfluxDB {self.client.shown_url}: {error}") from None

    def _active_at(self, start: int) -> frozenset[str]:
        rules = " OR ".join(f"rule = {string_literal(rule)}" for rule in INTERVAL_RULES)
        query = (
            "SELECT last(active) AS active, last(alarm_id) AS alarm_id FROM "
            f"{self._from(MEASUREMENT, self.places.events)} WHERE time >= {start - _LOOKBACK_NS}"
            f" AND time < {start} AND ({rules}) GROUP BY rule, zone, device"
        )
        return frozenset(row["alarm_id"] for row in self.client.rows(query) if row.get("active"))

    def _readings(self, start: int, end: int, limits: Limits) -> ReadingFigures:
        return ReadingFigures(
            answered=self._answered(start, end),
            pressure=self._pressure(start, end, limits),
            retention=self._retention(start, end),
        )

    def _time(self, start: int, end: int) -> str:
        return f"time >= {start} AND time < {end}"

    def _answered(self, start: int, end: int) -> dict[str, int]:
        minutes: dict[str, int] = {}
        for kind, point in ANSWERING_POINTS.items():
            if self.places.downsampled:
                query = (
                    f"SELECT count(answered) AS minutes FROM "
                    f"{self._from(f'{kind}_1m', self.places.downsampled)} WHERE "
                    f"{self._time(start, end)} AND answered > 0 GROUP BY device"
                )
            else:
                query = (
                    f"SELECT count(n) AS minutes FROM (SELECT count({quoted(point)}) AS n FROM "
                    f"{self._from(kind, self.places.readings)} WHERE {self._time(start, end)} "
                    "GROUP BY time(1m), device fill(none)) GROUP BY device"
                )
            minutes |= {row["device"]: int(row["minutes"]) for row in self.client.rows(query)}
        return minutes

    def _pressure(self, start: int, end: int, limits: Limits) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        for (low, high), devices in _by_limits(limits).items():
            within = self._pressure_minutes(start, end, devices, low, high)
            total = self._pressure_minutes(start, end, devices, None, None)
            found |= {device: (within.get(device, 0), n) for device, n in total.items()}
        return found

    def _pressure_minutes(
        self, start: int, end: int, devices: list[str], low: float | None, high: float | None
    ) -> dict[str, int]:
        chosen = "device =~ /^(" + "|".join(re.escape(d) for d in devices) + ")$/"
        if self.places.downsampled:
            where = [
                self._time(start, end),
                chosen,
                *_bounds("pressure_min", "pressure_max", low, high),
            ]
            query = (
                f"SELECT count(pressure_min) AS minutes FROM "
                f"{self._from('hydrant_pressure_1m', self.places.downsampled)} "
                f"WHERE {' AND '.join(where)} GROUP BY device"
            )
        else:
            bounds = _bounds("lo", "hi", low, high)
            outer = f" WHERE {' AND '.join(bounds)}" if bounds else ""
            query = (
                "SELECT count(lo) AS minutes FROM (SELECT min(pressure) AS lo, max(pressure) AS hi"
                f" FROM {self._from('hydrant_pressure', self.places.readings)} WHERE "
                f"{self._time(start, end)} AND {chosen} GROUP BY time(1m), device fill(none))"
                f"{outer} GROUP BY device"
            )
        return {row["device"]: int(row["minutes"]) for row in self.client.rows(query)}

    def _retention(self, start: int, end: int) -> dict[str, tuple[float, float]]:
        if self.places.downsampled:
            source = self._from("camera_1m", self.places.downsampled)
        else:
            source = self._from("camera", self.places.readings)
        query = (
            "SELECT min(retention_days) AS lowest, last(retention_days) AS latest FROM "
            f"{source} WHERE {self._time(start, end)} GROUP BY device"
        )
        return {
            row["device"]: (float(row["lowest"]), float(row["latest"]))
            for row in self.client.rows(query)
            if row.get("lowest") is not None
        }


def _by_limits(limits: Limits) -> Mapping[tuple[float | None, float | None], list[str]]:
    """Hydrants grouped by their limits: one query per group."""
    groups: dict[tuple[float | None, float | None], list[str]] = {}
    for device, pair in sorted(limits.items()):
        groups.setdefault(pair, []).append(device)
    return groups


def _bounds(lowest: str, highest: str, low: float | None, high: float | None) -> list[str]:
    """The conditions of a minute within the limits: its lowest and highest reading."""
    bounds = [f"{lowest} >= {low!r}"] if low is not None else []
    return bounds + ([f"{highest} <= {high!r}"] if high is not None else [])


def _slices(start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end:
        yield start, min(end, start + SLICE_NS)
        start += SLICE_NS


def _time(event: AlarmEvent) -> int:
    return event.at


def _row_time(item: tuple[EventRows, list[Any]]) -> int:
    return int(item[1][0])
