"""Throughput of the gateway's hot path on one core (target: 100,000 readings/s).

    .venv/bin/python -m bench.throughput [--site config/hospital.yaml] [--seconds 10]
        [--runs 3] [--quick] [--out bench/results/throughput.json]

In one process, with no sockets: the gateway's `Hub` with its subscribers as `Gateway.run`
wires them, minus the MQTT alarm feed: the `AlarmService` (real `RuleEngine` with the default
rules, real `AlarmStore` in a temporary folder, feed None, ticking as in the gateway) and the
`ReadingRecorder` -> `OutboxWriter` -> real `Outbox` (temporary SQLite file). Readings for every
point of every device of the site (values that raise no alarm: detectors normal, hydrants at
0.4 MPa, cameras online and recording) are published one device batch at a time, as the drivers
deliver them, as fast as the hub takes them, for `--seconds`; `observed_at` is the wall clock.
At the end the writer is flushed and the outbox's rows are counted.

Figures per run: rows committed / CPU time of the process (`time.process_time`, every thread:
the SQLite worker threads too), i.e. readings per second per core; also per wall-clock
second. The readings are built inside the timed loop, so their cost (the drivers' share) is
counted against the gateway: the figure is conservative. The median of `--runs` runs is
compared with the target. Then one more, shorter run under cProfile prints the top functions
by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime
import json
import pstats
import re
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import targets
from bench.machine import machine
from core.reading import Reading
from gateway.alarms import AlarmService, AlarmStore
from gateway.config import Site, load_site
from gateway.outbox import Outbox, OutboxWriter, ReadingRecorder
from gateway.outbox.store import lines_in_file
from gateway.runtime.hub import Hub

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SITE = REPO / "config" / "hospital.yaml"
RESULTS = REPO / "bench" / "results"
TARGET = targets.THROUGHPUT_PER_CPU_S
"""Readings per second through rules and outbox, on one core."""

NORMAL: dict[str, Any] = {
    # point -> value, (value, unit) for the points of the reference site's profiles
    "status": ("normal", None),
    "obscuration": (0.42, "%/m"),
    "temperature": (22.5, "°C"),
    "loop_current": (8.0, "mA"),
    "pressure": (0.4, "MPa"),
    "online": (True, None),
    "recording": (True, None),
    "fps": (25.0, "fps"),
    "bitrate": (4096.0, "kbps"),
    "retention_days": (120, "d"),
    "tamper": (False, None),
    "video_loss": (False, None),
    "file_retained": ("normal", None),
    "disk_free": (55.0, "%"),
}
CAMERA_TEMPERATURE = (38.0, "°C")


def device_points(site: Site) -> list[tuple[str, tuple[tuple[str, Any, str | None], ...]]]:
    """(device id, ((point, value, unit), ...)) for every device: what one poll delivers."""
    batches = []
    for device in site.config.devices:
        profile = site.profiles[device.profile]
        points = []
        for point in profile.points:
            value, unit = NORMAL[point.name]
            if point.name == "temperature" and device.kind.value == "camera":
                value, unit = CAMERA_TEMPERATURE
            points.append((point.name, value, unit))
        batches.append((device.id, tuple(points)))
    return batches


async def one_run(site: Site, folder: Path, seconds: float) -> dict[str, Any]:
    """Publish readings for `seconds`; returns rows committed, CPU and wall seconds."""
    devices = device_points(site)
    outbox_path = folder / "outbox.sqlite"
    async with (
        Outbox(outbox_path, sinks=()) as outbox,
        AlarmStore(folder / "alarms.sqlite") as store,
    ):
        writer = OutboxWriter(outbox)
        service = AlarmService.for_site(site, store, None, writer, rules=site.config.rules)
        hub = Hub()
        hub.subscribe("alarms", service)
        hub.subscribe("outbox", ReadingRecorder(site, writer))
        async with asyncio.TaskGroup() as tasks:
            writing = tasks.create_task(writer.run())
            alarms = tasks.create_task(service.run())
            await asyncio.sleep(0.2)  # the service restores its (no) alarms
            published = 0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            deadline = wall0 + seconds
            while time.perf_counter() < deadline:
                for device, points in devices:
                    observed_at = time.time_ns()
                    batch = [
                        Reading(device, point, value, unit=unit, observed_at=observed_at)
                        for point, value, unit in points
                    ]
                    await hub.publish(batch)
                    published += len(batch)
            await writer.flush()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            alarms_raised = len(service.engine.alarms)
            writing.cancel()
            alarms.cancel()
        await writer.close()
    rows = len(lines_in_file(outbox_path))
    return {
        "published": published,
        "rows_committed": rows,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "readings_per_cpu_s": round(rows / cpu),
        "readings_per_wall_s": round(rows / wall),
        "cpu_share_of_wall": round(cpu / wall, 3),
        "alarms_raised": alarms_raised,
        "store_failures": service.store_failures,
    }


def run_in_folder(site: Site, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="firegw-throughput-") as folder:
        return asyncio.run(one_run(site, Path(folder), seconds))


def profile(site: Site, seconds: float, top: int = 10) -> dict[str, list[dict[str, Any]]]:
    """One run under cProfile: the top functions of the project's code by cumulative time
    (asyncio's own frames, which wrap everything, left out) and of all code by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_in_folder(site, seconds)
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    ours = re.compile(r"/(gateway|rules|drivers)/")
    rows: dict[str, list[dict[str, Any]]] = {}
    for key, index, keep in (
        ("top_cumulative", 3, lambda file: bool(ours.search(file))),
        ("top_own_time", 2, lambda file: True),
    ):
        chosen = sorted(
            (item for item in entries.items() if keep(item[0][0])),
            key=lambda item: item[1][index],
            reverse=True,
        )[:top]
        rows[key] = [
            {
                "function": f"{_short(file)}:{line}({name})",
                "calls": calls,
                "tottime_s": round(tottime, 3),
                "cumtime_s": round(cumtime, 3),
            }
            for (file, line, name), (_, calls, tottime, cumtime, _) in chosen
        ]
    rows["total_s"] = round(stats.total_tt, 3)  # type: ignore[attr-defined,assignment]
    return rows


def _short(file: str) -> str:
    file = file.replace(str(REPO) + "/", "")
    return re.sub(r"^.*/lib/python3\.\d+/", "", file)


def print_profile(rows: dict[str, Any]) -> None:
    for key, title in (
        ("top_cumulative", "project functions by cumulative time"),
        ("top_own_time", "all functions by own time"),
    ):
        print(f"  top {len(rows[key])} {title} (of {rows['total_s']:.2f} s profiled):")
        print(f"    {'cumulative':>10} {'own':>7} {'calls':>9}  function")
        for row in rows[key]:
            print(
                f"    {row['cumtime_s']:>10.3f} {row['tottime_s']:>7.3f} {row['calls']:>9}  "
                f"{row['function']}"
            )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="the site file")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a run")
    parser.add_argument("--runs", type=int, default=3, help="runs (the median is reported)")
    parser.add_argument(
        "--profile-seconds", type=float, default=5.0, help="length of the profiled run"
    )
    parser.add_argument("--quick", action="store_true", help="3 runs of 2 s, profile 1 s")
    parser.add_argument("--out", type=Path, default=RESULTS / "throughput.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.profile_seconds = 2.0, 1.0
    if args.runs < 1 or args.seconds <= 0:
        parser.error("--runs must be at least 1 and --seconds positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    site = load_site(args.site)
    devices = device_points(site)
    per_round = sum(len(points) for _, points in devices)
    print(
        f"throughput: {site.config.site.id}, {len(devices)} devices, {per_round} readings "
        f"per round, {args.runs} runs of {args.seconds:g} s",
        flush=True,
    )
    runs = []
    for number in range(1, args.runs + 1):
        result = run_in_folder(site, args.seconds)
        runs.append(result)
        print(
            f"  run {number}: {result['rows_committed']:,} readings committed, "
            f"CPU {result['cpu_s']:.2f} s, wall {result['wall_s']:.2f} s: "
            f"{result['readings_per_cpu_s']:,} /CPU s, {result['readings_per_wall_s']:,} "
            f"/wall s; alarms raised {result['alarms_raised']}",
            flush=True,
        )
    median = statistics.median(run["readings_per_cpu_s"] for run in runs)
    median_wall = statistics.median(run["readings_per_wall_s"] for run in runs)
    top = profile(site, args.profile_seconds)
    document = {
        "benchmark": "throughput",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine("none"),
        "site": {
            "file": str(args.site),
            "id": site.config.site.id,
            "devices": len(devices),
            "readings_per_round": per_round,
        },
        "seconds_per_run": args.seconds,
        "runs": runs,
        "median_readings_per_cpu_s": median,
        "median_readings_per_wall_s": median_wall,
        "target_readings_per_cpu_s": TARGET,
        "pass": median >= TARGET
        and all(
            run["alarms_raised"] == 0 and run["rows_committed"] == run["published"] for run in runs
        ),
        "profile": {"seconds": args.profile_seconds, **top},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print()
    print(f"{'figure':<40}{'median':>12}  target")
    print("-" * 70)
    verdict = "PASS" if document["pass"] else "FAIL"
    print(f"{'readings/s per core (CPU time)':<40}{median:>12,.0f}  >= {TARGET:,.0f}  {verdict}")
    print(f"{'readings/s wall clock':<40}{median_wall:>12,.0f}")
    print()
    print(f"profile of one {args.profile_seconds:g} s run (cProfile):")
    print_profile(top)
    print(f"results: {args.out}")
    return 0 if document["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
