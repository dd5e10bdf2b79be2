"""One step of the campus benchmark: its gateways, and the figures of its measured window."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.feed import FeedWatcher
from bench.outboxfile import OutboxProgress
from bench.stats import summary
from bench.trials import Run
from gateway.config import Site
from simulators import SimulatedSite


@dataclass(frozen=True)
class Building:
    """One building's gateway and what the benchmark holds of it."""

    name: str
    site: Site
    simulated: SimulatedSite
    watcher: FeedWatcher
    process: asyncio.subprocess.Process
    report: Path
    log: Path


def step_figures(
    buildings: Sequence[Building],
    runs: Sequence[Run],
    reports: Sequence[dict[str, Any]],
    *,
    cpu: dict[str, dict[str, Any]],
    before: Sequence[OutboxProgress | None],
    after: Sequence[OutboxProgress | None],
) -> dict[str, Any]:
    """Latency pooled over the gateways, readings per second, backlog and CPU of each side."""
    window = cpu["mosquitto"]["window_s"]
    in_gateway = [float(v) for report in reports for v in report.get("latencies", [])]
    end_to_end = [t.end_to_end for run in runs for t in run.trials if t.end_to_end is not None]
    accepted = sum(_delta(b, a, "accepted") for b, a in zip(before, after, strict=True))
    delivered = sum(_delta(b, a, "delivered") for b, a in zip(before, after, strict=True))
    backlog = sum((a.accepted - (a.delivered or 0)) if a else 0 for a in after)
    gateways = [cpu[b.name]["cpu_percent_of_one_core"] or 0.0 for b in buildings]
    return {
        "gateways": len(buildings),
        "sites": [b.site.config.site.id for b in buildings],
        "devices": sum(len(b.site.devices) for b in buildings),
        "in_gateway": summary(in_gateway),
        "end_to_end": summary(end_to_end),
        "alarms_missing": sum(1 for run in runs for t in run.trials if t.raised is None),
        "accepted_per_s": round(accepted / window, 1),
        "delivered_per_s": round(delivered / window, 1),
        "backlog_at_end": backlog,
        "cpu_percent_of_one_core": {
            "gateways_total": round(sum(gateways), 1),
            "gateway_max": round(max(gateways), 1),
            "mosquitto": cpu["mosquitto"]["cpu_percent_of_one_core"],
            "influxd": cpu["influxd"]["cpu_percent_of_one_core"],
            "simulators": cpu["simulators"]["cpu_percent_of_one_core"],
        },
        "peak_rss_mb": {
            name: round(figures["peak_rss_kb"] / 1024, 1) for name, figures in cpu.items()
        },
        "window_s": window,
    }


def _delta(before: OutboxProgress | None, after: OutboxProgress | None, name: str) -> int:
    if before is None or after is None:
        return 0
    return (getattr(after, name) or 0) - (getattr(before, name) or 0)
