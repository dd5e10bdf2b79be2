"""What a report is made from: the alarm events of the period and what the readings say
about each device, whichever store they come from (InfluxDB, or the gateway's own files)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from firegw.report.period import Period
from rules import AlarmEvent

__all__ = [
    "INTERVAL_RULES",
    "MARGIN_NS",
    "STORES",
    "History",
    "HistoryError",
    "HistorySource",
    "Limits",
    "ReadingFigures",
]

STORES = "stores"
"""The name of the gateway's own files as a source of history (`--source stores`)."""

MARGIN_NS = 86_400 * 1_000_000_000
"""Events of the day after the period are read too, to finish the activations raised in its
last hours (an alarm raised at 23:59 and acknowledged after midnight)."""

INTERVAL_RULES = ("blind_spot",)
"""Rules whose alarms are read as time intervals (coverage): their state at the start counts."""

Limits = Mapping[str, tuple[float | None, float | None]]
"""Per hydrant: its low and high pressure limits in MPa (None: that rule is off)."""


@dataclass(frozen=True)
class ReadingFigures:
    """What the readings of the period say, per device, at minute resolution.

    - `answered`: minutes with at least one good reading of the device's main point
      (detector status, hydrant pressure, camera online);
    - `pressure`: per hydrant, (minutes whose lowest and highest readings were within its
      limits, minutes with a good pressure reading);
    - `retention`: per camera, (lowest, latest) recording retention in days.
    """

    answered: Mapping[str, int] = field(default_factory=dict)
    pressure: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    retention: Mapping[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class History:
    """The events from the period's start to a day after its end, in the order they happened,
    the interval alarms active at the start, and the readings' figures."""

    events: Sequence[AlarmEvent]
    active_at_start: frozenset[str]
    readings: ReadingFigures
    source: str
    """Where it came from, for the report's first page."""
    readings_from: str = "raw"
    """What the readings' figures were worked out from: `downsampled` (the per-minute
    measurements), `raw` (the readings themselves) or `stores` (the outbox)."""


class HistorySource(Protocol):
    """Reads a period's history. `read` raises `HistoryError` with a one-line reason."""

    def read(self, period: Period, limits: Limits) -> History: ...


class HistoryError(Exception):
    """The history cannot be read: a database that does not answer, a store that is missing."""
