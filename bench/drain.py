"""Outbox append rate, and the drain of an outage's backlog to InfluxDB.

    .venv/bin/python -m bench.drain [--site config/hospital.yaml] [--scale 10] [--minutes 60]
        [--runs 3] [--batch-size N] [--quick] [--out bench/results/drain.json]

1. The backlog: `--minutes` of the site's readings at `--scale` (the site scaled as
   bench/alarm_latency.py scales it), as the gateway would have stored them during an outage:
   every point of every device's profile at each device's poll interval, timestamps spread
   over the minutes before now, each line encoded by `gateway.outbox.lineprotocol` under the
   device's tags. The lines go into a real `Outbox` through `Outbox.append`, in batches of 100,000;
   that gives the **append rate** (lines per second spent in `append`).
2. The drain, `--runs` times on a fresh copy of that outbox file: a fresh InfluxDB 1.x
   (`influxd`, as tests/servers.py starts it), a private Mosquitto, the site's simulators in
   this process, and the gateway in a process of its own (`bench.gateway_probe`, which is
   `firegw run` plus a report on exit) with that outbox and the InfluxDB as its sink. New
   readings keep flowing in while the backlog drains. The sink's position in the outbox
   (``sink_position``) is watched: the backlog is delivered when it has passed the backlog's
   last line. Then the gateway is stopped and InfluxDB is asked to count the values stored in
   the backlog's time range, field by field: they must equal what was generated.

Figures per run: seconds from the gateway's start to the backlog delivered, points per
second over that time (the figure of the target) and from the first delivered batch on (the
steady rate, without start-up), the new readings committed meanwhile, the gateway's CPU and
peak RSS. The median, minimum and maximum over the runs are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import math
import os
import shlex
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench import outboxfile, targets
from bench.backlog import Backlog, build_backlog, device_series
from bench.entry import run_part
from bench.machine import describe, machine
from bench.processes import (
    gateway_process,
    log_tail,
    read_report,
    start_simulators,
    stop_process,
    warnings_in,
)
from bench.servers import InfluxDB
from bench.site import DEFAULT_SITE, RESULTS, write_site
from bench.stats import spread
from firegw.embedded_broker import EmbeddedBroker
from gateway.config import Site, load_site
from gateway.config.models import OutboxSettings

TARGET = targets.DRAIN_POINTS_PER_S
"""Points per second drained to the database after an outage."""
SINK = "local"
DATABASE = "firegw_drain"
WATCH_INTERVAL = 0.05
SLOWEST = 5_000.0
"""Points per second under which a drain is given up as stuck."""
COUNT_TIMEOUT = 600.0


# The drain.


@dataclass
class Progress:
    """What the watcher saw of the sink's position in the outbox (monotonic times)."""

    spawned: float
    first_delivery: float = math.nan
    first_position: int = 0
    delivered: float = math.nan
    position: int = 0
    last_id: int = 0
    """The highest id the outbox had handed out when the backlog was delivered."""


async def watch_drain(
    outbox: Path,
    backlog: Backlog,
    progress: Progress,
    process: asyncio.subprocess.Process,
    log: Path,
) -> None:
    """Until the sink has passed the backlog's last line; fails if the gateway exits or the
    drain is slower than `SLOWEST` points per second."""
    deadline = progress.spawned + 60.0 + backlog.lines / SLOWEST
    while True:
        seen = await asyncio.to_thread(outboxfile.progress, outbox)
        now = time.monotonic()
        position = (seen.delivered or 0) if seen is not None else 0
        if position and math.isnan(progress.first_delivery):
            progress.first_delivery, progress.first_position = now, position
        progress.position = position
        progress.last_id = seen.accepted if seen is not None else backlog.last_id
        if position >= backlog.last_id:
            progress.delivered = now
            return
        if process.returncode is not None or now > deadline:
            what = (
                f"exited (code {process.returncode})"
                if process.returncode is not None
                else f"had delivered {position:,} of {backlog.last_id:,} lines after "
                f"{now - progress.spawned:.0f} s"
            )
            raise RuntimeError(f"the gateway {what}; {log_tail(log)}")
        await asyncio.sleep(WATCH_INTERVAL)


def run_site(
    site_file: Path, run_dir: Path, influx_url: str, backlog: Backlog, batch_size: int | None
) -> Path:
    """The simulators' site file with this run's outbox and the InfluxDB as its one sink."""
    document = yaml.safe_load(site_file.read_text())
    cap = max(OutboxSettings().max_rows, 2 * backlog.lines)  # nothing dropped, whatever --minutes
    document["outbox"] = {"path": str(run_dir / "outbox.sqlite"), "max_rows": cap}
    connection: dict[str, Any] = {
        "name": SINK,
        "api": "v1",
        "url": influx_url,
        "database": DATABASE,
    }
    if batch_size is not None:
        connection["batch_size"] = batch_size
    document["influxdb"] = connection
    path = run_dir / "site.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=200))
    return path


def copy_backlog(backlog: Backlog, run_dir: Path) -> Path:
    """A fresh copy of the backlog's outbox file for one run (in `run_dir`, made now)."""
    run_dir.mkdir(parents=True)
    target = run_dir / "outbox.sqlite"
    shutil.copyfile(backlog.path, target)
    return target


async def drain_once(
    number: int, site_file: Path, backlog: Backlog, folder: Path, batch_size: int | None
) -> dict[str, Any]:
    """One drain: fresh outbox copy, fresh InfluxDB, the gateway until the backlog is in."""
    run_dir = folder / f"run-{number}"
    outbox = await asyncio.to_thread(copy_backlog, backlog, run_dir)
    try:
        async with InfluxDB() as influx:
            site = run_site(site_file, run_dir, influx.url, backlog, batch_size)
            report, log = run_dir / "gateway-report.json", run_dir / "gateway.log"
            load = os.getloadavg()
            progress = Progress(time.monotonic())
            async with gateway_process(site, log, report=report) as process:
                await watch_drain(outbox, backlog, progress, process, log)
                stop_s = await stop_process(process)
            counts = await stored_counts(influx.url, backlog)
        return run_figures(
            backlog, progress, read_report(report), counts, log, load=load, stop_s=stop_s
        )
    finally:
        await asyncio.to_thread(shutil.rmtree, run_dir, True)


async def stored_counts(url: str, backlog: Backlog) -> Counter[tuple[str, str]]:
    """(measurement, field) -> values InfluxDB holds in the backlog's time range."""
    query = f"SELECT count(*) FROM /.*/ WHERE time >= {backlog.from_ns} AND time < {backlog.to_ns}"
    timeout = aiohttp.ClientTimeout(total=COUNT_TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"{url}/query", params={"db": DATABASE, "q": query}) as response,
    ):
        body = await response.json()
    counts: Counter[tuple[str, str]] = Counter()
    for result in body.get("results", []):
        if "error" in result:
            raise RuntimeError(f"InfluxDB refused {query!r}: {result['error']}")
        for series in result.get("series", []):
            for column, value in zip(series["columns"], series["values"][0], strict=True):
                if column.startswith("count_") and value:
                    counts[(series["name"], column.removeprefix("count_"))] += int(value)
    return counts


def run_figures(
    backlog: Backlog,
    progress: Progress,
    gateway: dict[str, Any],
    stored: Counter[tuple[str, str]],
    log: Path,
    *,
    load: Sequence[float],
    stop_s: float | None,
) -> dict[str, Any]:
    """One run's figures; times in seconds from the gateway's start."""
    drain_s = progress.delivered - progress.spawned
    steady_s = progress.delivered - progress.first_delivery
    new = progress.last_id - backlog.last_id
    cpu = (gateway.get("cpu_user_s") or 0.0) + (gateway.get("cpu_system_s") or 0.0)
    run_s = gateway.get("run_s") or 0.0
    missing = {
        f"{m}.{f}": n - stored[(m, f)]
        for (m, f), n in backlog.counts.items()
        if stored[(m, f)] != n
    }
    extra = {f"{m}.{f}": n for (m, f), n in stored.items() if (m, f) not in backlog.counts}
    return {
        "drain_s": round(drain_s, 3),
        "points_per_s": round(backlog.lines / drain_s),
        "first_delivery_s": round(progress.first_delivery - progress.spawned, 3),
        "steady_points_per_s": round((backlog.last_id - progress.first_position) / steady_s)
        if steady_s > 0
        else None,
        "new_readings": new,
        "new_readings_per_s": round(new / drain_s),
        "new_readings_waiting_at_end": progress.last_id - progress.position,
        "stored_in_backlog_range": sum(stored.values()),
        "generated": backlog.lines,
        "exact": not missing and not extra and sum(stored.values()) == backlog.lines,
        "fields_differing": {**missing, **{k: -n for k, n in extra.items()}},
        "gateway": {
            "cpu_s": round(cpu, 2),
            "run_s": round(run_s, 2),
            "cpu_percent_of_one_core": round(100 * cpu / run_s, 1) if run_s else None,
            "max_rss_kb": gateway.get("max_rss_kb"),
            "readings": gateway.get("readings"),
            "stop_s": None if stop_s is None else round(stop_s, 3),
            "log_warnings": warnings_in(log),
        },
        "load_average_at_start": [round(value, 2) for value in load],
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }


# Running it.


async def run_benchmark(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Build the backlog, then drain it `args.runs` times; the results as a JSON object."""
    args.poll = load_site(args.site).config.defaults.poll_interval  # write_site sets it
    backlog, rate = await prepare_backlog(args, folder / "backlog")
    built = backlog.figures()
    print(
        f"  backlog: {backlog.lines:,} lines ({built['file_bytes'] / 1e6:,.0f} MB); append "
        f"{built['append_lines_per_s']:,} lines/s, encode and append "
        f"{built['build_lines_per_s']:,} lines/s",
        flush=True,
    )
    runs = []
    async with AsyncExitStack() as stack:
        broker = await stack.enter_async_context(EmbeddedBroker())
        site_file, site, _ = await start_simulators(
            stack,
            lambda: write_site(
                args.site, folder, mqtt_port=broker.port, poll=args.poll, scale=args.scale
            ),
        )
        for number in range(1, args.runs + 1):
            run = await drain_once(number, site_file, backlog, folder, args.batch_size)
            runs.append(run)
            _print_run(number, run)
    return results(args, site, broker.name, rate, backlog=built, runs=runs)


async def prepare_backlog(args: argparse.Namespace, folder: Path) -> tuple[Backlog, float]:
    """The scaled site (ports and broker do not matter here) and its backlog; also the
    site's readings per second."""
    site = scaled_site(args, folder)
    rate = sum(len(device.points) * 1e9 / device.interval_ns for device in device_series(site))
    print(
        f"{site.config.site.id} x{args.scale}: {len(site.devices)} devices, {rate:,.0f} "
        f"readings/s; building {args.minutes:g} minutes of backlog",
        flush=True,
    )
    return await build_backlog(site, folder / "outbox.sqlite", args.minutes), rate


def scaled_site(args: argparse.Namespace, folder: Path) -> Site:
    """The site at `args.scale`, written into `folder` (made now) and loaded."""
    folder.mkdir(parents=True)
    return load_site(write_site(args.site, folder, mqtt_port=1, poll=args.poll, scale=args.scale))


def _print_run(number: int, run: dict[str, Any]) -> None:
    check = "exact" if run["exact"] else f"NOT EXACT: {run['fields_differing']}"
    print(
        f"  run {number}: backlog delivered in {run['drain_s']:.1f} s, "
        f"{run['points_per_s']:,} points/s (steady {run['steady_points_per_s']:,}/s, first "
        f"batch at {run['first_delivery_s']:.1f} s); {run['new_readings']:,} new readings "
        f"meanwhile; InfluxDB holds {run['stored_in_backlog_range']:,} of "
        f"{run['generated']:,}: {check}",
        flush=True,
    )


def results(
    args: argparse.Namespace,
    site: Site,
    broker: str,
    rate: float,
    *,
    backlog: dict[str, Any],
    runs: list[dict[str, Any]],
) -> dict[str, Any]:
    figures = {
        name: spread([run[name] for run in runs])
        for name in (
            "points_per_s",
            "drain_s",
            "steady_points_per_s",
            "first_delivery_s",
            "new_readings_per_s",
        )
    }
    return {
        "benchmark": "drain",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {**describe(), **machine(broker)},
        "site": {
            "file": str(args.site),
            "id": site.config.site.id,
            "scale": args.scale,
            "devices": len(site.devices),
            "readings_per_s": round(rate, 1),
        },
        "sink_batch_size": args.batch_size or "default",
        "backlog": backlog,
        "runs": runs,
        "figures": figures,
        "target_points_per_s": TARGET,
        "pass": figures["points_per_s"]["median"] >= TARGET and all(r["exact"] for r in runs),
    }


def print_table(document: dict[str, Any]) -> None:
    backlog, figures = document["backlog"], document["figures"]
    print()
    print(
        f"drain: {document['site']['id']} x{document['site']['scale']}, "
        f"{backlog['minutes']:g} minutes of backlog, {backlog['lines']:,} lines, "
        f"{len(document['runs'])} runs"
    )
    print(f"{'figure':<44}{'median':>12}{'min':>12}{'max':>12}  target")
    print("-" * 100)
    print(f"{'append to the outbox, lines/s':<44}{backlog['append_lines_per_s']:>12,}")
    rows = [
        ("drain: backlog points/s from gateway start", "points_per_s"),
        ("drain: steady points/s (from first batch)", "steady_points_per_s"),
        ("gateway start -> backlog delivered, s", "drain_s"),
        ("gateway start -> first batch delivered, s", "first_delivery_s"),
        ("new readings/s meanwhile", "new_readings_per_s"),
    ]
    for label, key in rows:
        spread_ = figures[key]
        target = ""
        if key == "points_per_s":
            verdict = "PASS" if spread_["median"] >= TARGET else "FAIL"
            target = f">= {TARGET:,.0f}  {verdict}"
        cells = "".join(f"{_cell(spread_[name]):>12}" for name in ("median", "min", "max"))
        print(f"{label:<44}{cells}  {target}".rstrip())
    exact = all(run["exact"] for run in document["runs"])
    print(
        f"InfluxDB count over the backlog's time range equals what was generated: "
        f"{'yes, every run' if exact else 'NO'}"
    )


def _cell(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.drain", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="the site file")
    parser.add_argument("--scale", type=int, default=10, help="copies of the site's devices")
    parser.add_argument("--minutes", type=float, help="backlog length (60; 5 with --quick)")
    parser.add_argument("--runs", type=int, help="drains of the backlog (3; 1 with --quick)")
    parser.add_argument(
        "--batch-size", type=int, help="the sink's lines per request (default: the gateway's)"
    )
    parser.add_argument("--quick", action="store_true", help="5 minutes of backlog, one run")
    parser.add_argument(
        "--out", type=Path, help="JSON results (default bench/results/drain[-quick].json)"
    )
    args = parser.parse_args(argv)
    args.minutes = args.minutes or (5.0 if args.quick else 60.0)
    args.runs = args.runs or (1 if args.quick else 3)
    if args.out is None:
        args.out = RESULTS / ("drain-quick.json" if args.quick else "drain.json")
    if args.scale < 1 or args.runs < 1 or args.minutes <= 0 or not math.isfinite(args.minutes):
        parser.error("--scale and --runs must be at least 1, --minutes positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_part("drain", args.out, lambda folder: run_benchmark(args, folder), print_table)


if __name__ == "__main__":
    raise SystemExit(main())
