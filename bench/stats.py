"""Percentiles of samples within a run, and median and spread of a figure over runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: Sequence[float], target: float | None = None) -> dict[str, Any]:
    """n, p50/p95/p99/max/mean/min in ms of samples in seconds; with `target`, p99 against it."""
    figures: dict[str, Any] = {"n": len(values)}
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        figures[f"{name}_ms"] = ms(percentile(values, q))
    figures["mean_ms"] = ms(sum(values) / len(values)) if values else None
    figures["min_ms"] = ms(min(values)) if values else None
    if target is not None:
        figures["target_p99_ms"] = ms(target)
        p99 = percentile(values, 99)
        figures["pass"] = p99 is not None and p99 < target
    return figures


def ms(seconds: float | None) -> float | None:
    """Seconds as milliseconds rounded to 0.01; None stays None."""
    return None if seconds is None else round(seconds * 1000, 2)


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """Median, min, max and count of one figure over runs (runs without it are left out)."""
    present = [value for value in values if value is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "runs": 0}
    return {
        "median": round(statistics.median(present), 4),
        "min": round(min(present), 4),
        "max": round(max(present), 4),
        "runs": len(present),
    }


def cell(value: float | None) -> str:
    """A figure in a printed table: as short as it is exact, `-` when there is none."""
    return "-" if value is None else f"{value:g}"
