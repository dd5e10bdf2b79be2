"""The parts of the one benchmark command: how each is invoked, and its rows in the table.

Every part is its own module with its own command line and JSON results; the suite runs each
as a child process (so that one part's threads, memory or CPU time never count in another's)
and reads back its JSON. A `Row` is one figure: its median and spread over runs, the target of
the targets (docs/architecture.md) it answers, and whether the median meets it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import targets
from bench.stats import spread

Document = dict[str, Any]


@dataclass(frozen=True)
class Options:
    """What the suite's command line asks of the parts."""

    quick: bool
    runs: int
    scales: tuple[int, ...]
    large_scale: int
    gateways: int


@dataclass(frozen=True)
class Invocation:
    """One child process: `python -m bench.<module> *args`, its results written to `out`."""

    module: str
    args: tuple[str, ...]
    out: Path
    key: str
    """What the suite files the results under, e.g. `alarm-x10`."""


@dataclass(frozen=True)
class Row:
    """One figure of the table."""

    figure: str
    unit: str
    median: float | None
    low: float | None
    high: float | None
    runs: int
    target: str = ""
    met: bool | None = None

    @classmethod
    def of(
        cls,
        figure: str,
        unit: str,
        values: Sequence[float | None],
        target: str = "",
        test: Callable[[float], bool] | None = None,
    ) -> Row:
        """The row of `values` (one per run); `test` tells whether the median meets the target."""
        figures = spread(values)
        median = figures["median"]
        met = None if test is None or median is None else bool(test(median))
        return cls(
            figure, unit, median, figures["min"], figures["max"], figures["runs"], target, met
        )


def alarm_rows(documents: dict[str, list[Document]], options: Options) -> list[Row]:
    """In-gateway and end-to-end alarm latency at 1x and at the large scale."""
    rows = []
    for scale in sorted({1, options.large_scale} & set(options.scales)):
        runs = documents.get(f"alarm-x{scale}", [])
        if not runs:
            continue
        poll_ms = 1000 * runs[0]["site"]["poll_interval_s"]
        for key, label, limit in (
            ("in_gateway", "alarm in gateway", 1000 * targets.IN_GATEWAY_P99_S),
            ("end_to_end", "alarm end to end", poll_ms + 1000 * targets.END_TO_END_MARGIN_S),
        ):
            for q in ("p50", "p99"):
                values = [run["figures"][key][f"{q}_ms"] for run in runs]
                target, test = (f"< {limit:g} ms", _below(limit)) if q == "p99" else ("", None)
                rows.append(Row.of(f"{label} {q} at {scale}x", "ms", values, target, test))
    return rows


def throughput_rows(documents: dict[str, list[Document]], options: Options) -> list[Row]:
    runs = [run for document in documents.get("throughput", []) for run in document["runs"]]
    return [
        Row.of(
            "throughput, one core",
            "readings/s",
            [run["readings_per_cpu_s"] for run in runs],
            f">= {targets.THROUGHPUT_PER_CPU_S:,.0f}",
            _above(targets.THROUGHPUT_PER_CPU_S),
        )
    ]


def modbus_rows(documents: dict[str, list[Document]], options: Options) -> list[Row]:
    runs = documents.get("modbus", [])
    return [
        Row.of(
            "Modbus registers/s vs bare pymodbus",
            "ratio",
            [run["ratio_registers_per_s"] for run in runs],
            f">= {targets.MODBUS_REGISTER_RATIO:.2f}",
            _above(targets.MODBUS_REGISTER_RATIO),
        ),
        Row.of(
            "Modbus requests/s the site needs",
            "requests/s",
            [run["whole_site"]["requests_per_s_needed"] for run in runs],
            f"a few dozen (< {targets.MODBUS_REQUESTS_PER_S})",
            _below(targets.MODBUS_REQUESTS_PER_S),
        ),
    ]


def endpoints_rows(documents: dict[str, list[Document]], options: Options) -> list[Row]:
    """One Modbus endpoint per device (bench/modbus_endpoints.py), at 1x and the large scale."""
    rows = []
    for scale in sorted({1, options.large_scale}):
        runs = [run for doc in documents.get(f"endpoints-x{scale}", []) for run in doc["runs"]]
        cpu = targets.ENDPOINTS_CPU_PERCENT_1X if scale == 1 else targets.ENDPOINTS_CPU_PERCENT_10X
        rows += [
            Row.of(
                f"endpoints per device: CPU of one core, {scale}x",
                "%",
                [run["gateway"]["cpu_percent_of_one_core"] for run in runs],
                f"< {cpu:g}%",
                _below(cpu),
            ),
            Row.of(
                f"endpoints per device: CPU per request vs bare pymodbus, {scale}x",
                "ratio",
                [run["cpu_per_request_ratio"] for run in runs],
                f"<= {targets.ENDPOINTS_CPU_PER_REQUEST_RATIO:g}",
                lambda value: value <= targets.ENDPOINTS_CPU_PER_REQUEST_RATIO,
            ),
            Row.of(
                f"endpoints per device: RSS drift, {scale}x",
                "MB/min",
                [run["gateway"]["rss_drift_mb_per_min"] for run in runs],
                f"< {targets.ENDPOINTS_RSS_DRIFT_MB_PER_MIN:g}",
                _below(targets.ENDPOINTS_RSS_DRIFT_MB_PER_MIN),
            ),
        ]
        if scale != 1:
            rows += [
                Row.of(
                    f"endpoints per device: RSS, {scale}x",
                    "MB",
                    [run["gateway"]["rss_mb"] for run in runs],
                    f"< {targets.ENDPOINTS_RSS_MB_10X:g}",
                    _below(targets.ENDPOINTS_RSS_MB_10X),
                ),
                Row.of(
                    f"endpoints per device: first reading stored, {scale}x",
                    "s",
                    [run["gateway"]["first_reading_stored_s"] for run in runs],
                    f"< {targets.ENDPOINTS_FIRST_READING_10X_S:g}",
                    _below(targets.ENDPOINTS_FIRST_READING_10X_S),
                ),
            ]
    return rows


def footprint_rows(documents: dict[str, list[Document]], options: Options) -> list[Row]:
    runs = [run for document in documents.get("footprint", []) for run in document["runs"]]
    return [
        Row.of(
            "footprint: CPU of one core, 1x, 1 s poll",
            "%",
            [run["cpu_percent_of_one_core"] for run in runs],
            f"< {targets.CPU_PERCENT_1X:g}%",
            _below(targets.CPU_PERCENT_1X),
        ),
        Row.of(
            "footprint: peak RSS, 1x",
            "MB",
            [run["peak_rss_mb"] for run in runs],
            f"< {targets.RSS_MB_1X:g} MB",
            _below(targets.RSS_MB_1X),
        ),
    ]


def disk_rows(documents: dict[str, list[Document]], options: Options) -> list[Row]:
    """Disk writes at each scale and the outbox's bytes per buffered reading, this code and
    the revision before (the "before" rows have no target: they are the comparison)."""
    rows = []
    for document in documents.get("disk", []):
        for scale, codes in document["scales"].items():
            for code in ("before", "after"):
                if code not in codes:
                    continue
                runs = codes[code]["runs"]
                for key, figure, unit, limit in (
                    (
                        "bytes_written_per_reading",
                        "disk: bytes written per reading",
                        "B",
                        targets.DISK_BYTES_PER_READING_1X,
                    ),
                    (
                        "kb_written_per_s",
                        "disk: written per second",
                        "KB/s",
                        targets.DISK_KB_PER_S_1X,
                    ),
                    (
                        "bytes_on_disk_per_buffered_reading",
                        "disk: outbox per buffered reading",
                        "B",
                        targets.OUTBOX_BYTES_PER_BUFFERED_READING,
                    ),
                ):
                    if key not in runs[0]:
                        continue
                    aimed = code == "after" and scale == "x1"
                    rows.append(
                        Row.of(
                            f"{figure}, {scale.removeprefix('x')}x, {code}",
                            unit,
                            [run[key] for run in runs],
                            f"< {limit:g} {unit}" if aimed else "",
                            _below(limit) if aimed else None,
                        )
                    )
    return rows


def startup_rows(documents: dict[str, list[Document]], options: Options) -> list[Row]:
    runs = [run for document in documents.get("startup", []) for run in document["runs"]]
    rows = [
        Row.of(
            "start -> first reading in outbox",
            "s",
            [run["to_first_in_outbox_s"] for run in runs],
            f"< {targets.STARTUP_S:g} s",
            _below(targets.STARTUP_S),
        ),
        Row.of(
            "start -> first reading in InfluxDB",
            "s",
            [run["to_first_in_influxdb_s"] for run in runs],
            f"< {targets.STARTUP_S:g} s",
            _below(targets.STARTUP_S),
        ),
    ]
    stop = Row.of(
        "SIGTERM -> exit, outbox flushed",
        "s",
        [run["stop_s"] for run in runs],
        f"< {targets.STOP_S:g} s",
        _below(targets.STOP_S),
    )
    if stop.met and not all(run["flushed"] for run in runs):
        stop = Row(
            stop.figure,
            stop.unit,
            stop.median,
            stop.low,
            stop.high,
            stop.runs,
            stop.target + " (not flushed!)",
            False,
        )
    return [*rows, stop]


def drain_rows(documents: dict[str, list[Document]], options: Options) -> list[Row]:
    rows = []
    for document in documents.get("drain", []):
        scale = document["site"]["scale"]
        minutes = document["backlog"]["minutes"]
        rows.append(
            Row.of(
                f"outbox append rate, {scale}x",
                "lines/s",
                [document["backlog"]["append_lines_per_s"]],
            )
        )
        figure = document["figures"]["points_per_s"]
        met = document.get("pass")
        rows.append(
            Row(
                f"drain after {minutes:g} min backlog at {scale}x",
                "points/s",
                figure["median"],
                figure["min"],
                figure["max"],
                figure["runs"],
                f">= {targets.DRAIN_POINTS_PER_S:,.0f}",
                met,
            )
        )
    return rows


def campus_rows(documents: dict[str, list[Document]], options: Options) -> list[Row]:
    rows = []
    for document in documents.get("campus", []):
        for step in document["steps"]:
            n = step["gateways"]
            rows.append(
                Row.of(
                    f"campus {n} gw: alarm p99 in gateway",
                    "ms",
                    [step["in_gateway"]["p99_ms"]],
                    f"< {1000 * targets.IN_GATEWAY_P99_S:g} ms",
                    _below(1000 * targets.IN_GATEWAY_P99_S),
                )
            )
            rows.append(
                Row.of(
                    f"campus {n} gw: delivered / accepted",
                    "ratio",
                    [_ratio(step["delivered_per_s"], step["accepted_per_s"])],
                )
            )
            rows.append(
                Row.of(
                    f"campus {n} gw: influxd + broker CPU",
                    "%",
                    [_sum(step["cpu_percent_of_one_core"], "influxd", "mosquitto")],
                )
            )
    return rows


def uplink_rows(documents: dict[str, list[Document]], options: Options) -> list[Row]:
    """A detector's fire on the simulator to the monitoring centre's receiver, and whether
    every fire got there."""
    runs = documents.get("uplink", [])
    limit = 1000 * targets.UPLINK_P99_S
    latency = [run["latency"] for run in runs]
    return [
        Row.of("uplink fire -> centre p50", "ms", [figures["p50_ms"] for figures in latency]),
        Row.of(
            "uplink fire -> centre p99",
            "ms",
            [figures["p99_ms"] for figures in latency],
            f"< {limit:g} ms",
            _below(limit),
        ),
        Row.of(
            "uplink fires received",
            "%",
            [100.0 * run["received"] / run["fires"] if run["fires"] else None for run in runs],
            "100%",
            _above(100.0),
        ),
    ]


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def _sum(figures: dict[str, float | None], *names: str) -> float:
    return round(sum(figures[name] or 0.0 for name in names), 2)


def _below(limit: float) -> Callable[[float], bool]:
    return lambda value: value < limit


def _above(limit: float) -> Callable[[float], bool]:
    return lambda value: value >= limit


def alarm_series(documents: dict[str, list[Document]]) -> dict[str, dict[str, Any]]:
    """Per scale, median and spread over runs of the latency percentiles (for the plot)."""
    series = {}
    for key, runs in sorted(documents.items(), key=lambda item: int(item[0].split("-x")[1])):
        series[key.split("-x")[1]] = {
            f"{figure}_{q}_ms": spread([run["figures"][figure][f"{q}_ms"] for run in runs])
            for figure in ("in_gateway", "end_to_end")
            for q in ("p50", "p95", "p99")
        }
    return series
