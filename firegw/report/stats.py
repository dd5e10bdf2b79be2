"""The few statistics the report quotes, defined once: median, 90th percentile, share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Spread", "percentile", "spread"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q` quantile (0-1) by linear interpolation between the closest ranks (the
    "inclusive" method: Excel's PERCENTILE.INC, numpy's default); the median is q = 0.5."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spread:
    """Seconds to one step of the response, over `count` activations: of those that reached
    it (`reached`), the median, 90th percentile and worst; how many were within the rule."""

    count: int
    reached: int
    within: int
    median: float | None
    p90: float | None
    worst: float | None

    @property
    def share_within(self) -> float | None:
        """Share of all the activations (reached or not) that reached it within the rule."""
        return self.within / self.count if self.count else None


def spread(seconds: Sequence[float | None], limit: float) -> Spread:
    """The spread of `seconds` (None: never reached) against the rule's `limit`."""
    reached = [s for s in seconds if s is not None]
    return Spread(
        count=len(seconds),
        reached=len(reached),
        within=sum(1 for s in reached if s <= limit),
        median=percentile(reached, 0.5),
        p90=percentile(reached, 0.9),
        worst=max(reached, default=None),
    )
