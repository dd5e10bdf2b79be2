"""Footprint of the gateway process, measured from outside (targets: under 3% of one core and
48 MB peak RSS at reference-site scale with 1 s polling).

    .venv/bin/python -m bench.footprint [--site config/hospital.yaml] [--scale 1] [--poll 1s]
        [--runs 3] [--warm-up 10] [--seconds 30] [--profile 0] [--quick]
        [--out bench/results/footprint[-quick].json]

Mosquitto and InfluxDB 1.x as processes of their own, the site's simulators in this process,
and the gateway as plain `firegw run` (`python -m firegw run`: nothing of the benchmark in
it), writing to that InfluxDB and publishing its feed on that broker. Each run starts a fresh
gateway (new outbox, new database), lets it warm up for `--warm-up` s, then reads
`/proc/<pid>/stat` (utime + stime) and `/proc/<pid>/status` (VmHWM, VmRSS, threads) at the
start and the end of a steady window of `--seconds`: CPU share of one core over the window,
peak RSS since the process started (start-up included), and the readings it accepted into its
outbox and delivered to InfluxDB meanwhile. Mosquitto, influxd and this process (the
simulators) are measured over the same window, for context. Then the gateway gets SIGTERM.

With `--profile S`, one more run is sampled by py-spy for S seconds of its steady window (not
counted in the figures): the functions that take the gateway's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import pyspy, targets
from bench.entry import run_part
from bench.machine import describe, machine
from bench.outboxfile import progress
from bench.processes import gateway_command, log_tail, start, stop_process, warnings_in
from bench.procstat import Watch
from bench.site import DEFAULT_SITE, RESULTS
from bench.stats import cell, spread
from bench.testbed import Testbed, open_testbed
from rules import parse_duration

CPU_TARGET = targets.CPU_PERCENT_1X
"""Percent of one core."""
RSS_TARGET_MB = targets.RSS_MB_1X
FIGURES = (
    "cpu_percent_of_one_core",
    "peak_rss_mb",
    "rss_mb",
    "threads",
    "accepted_per_s",
    "delivered_per_s",
    "stop_s",
)


async def one_run(
    bed: Testbed, name: str, args: argparse.Namespace, profile_s: float = 0.0
) -> dict[str, Any]:
    """A fresh gateway: warm up, measure a steady window (or profile it), SIGTERM."""
    files = await bed.fresh(name)
    process = await start(gateway_command(files.site_file, None), files.log)
    try:
        await asyncio.sleep(args.warm_up)
        if process.returncode is not None:
            raise RuntimeError(f"the gateway exited during warm-up; {log_tail(files.log)}")
        watch = Watch(
            {
                "gateway": process.pid,
                "mosquitto": bed.broker.pid,
                "influxd": bed.influx.pid,
                "simulators": os.getpid(),
            }
        )
        before = progress(files.outbox)
        watch.start()
        if profile_s:
            top = await pyspy.record(process.pid, profile_s, bed.folder / f"{name}.pyspy")
        else:
            await asyncio.sleep(args.seconds)
        processes = watch.stop()
        after = progress(files.outbox)
    finally:
        stop_s = await stop_process(process)
    if profile_s:
        return {"seconds": profile_s, **top}
    return _figures(processes, before, after, stop_s, warnings_in(files.log))


def _figures(
    processes: dict[str, dict[str, Any]],
    before: Any,
    after: Any,
    stop_s: float | None,
    warnings: list[str],
) -> dict[str, Any]:
    gateway = processes["gateway"]
    window = gateway["window_s"]
    accepted = (after.accepted - before.accepted) if before and after else None
    delivered = ((after.delivered or 0) - (before.delivered or 0)) if before and after else None
    return {
        "cpu_percent_of_one_core": gateway["cpu_percent_of_one_core"],
        "peak_rss_mb": round(gateway["peak_rss_kb"] / 1024, 1),
        "rss_mb": round(gateway["rss_kb"] / 1024, 1),
        "threads": gateway["threads"],
        "accepted_per_s": None if accepted is None else round(accepted / window, 1),
        "delivered_per_s": None if delivered is None else round(delivered / window, 1),
        "stop_s": None if stop_s is None else round(stop_s, 3),
        "window_s": window,
        "processes": processes,
        "log_warnings": warnings,
    }


async def run_benchmark(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The testbed, then `--runs` measured runs and the optional profiled one."""
    async with open_testbed(folder, args.site, scale=args.scale, poll=args.poll) as bed:
        print(bed.describe(), flush=True)
        runs = []
        for number in range(1, args.runs + 1):
            run = await one_run(bed, f"run{number}", args)
            runs.append(run)
            print(
                f"  run {number}: {run['cpu_percent_of_one_core']}% of one core, peak RSS "
                f"{run['peak_rss_mb']} MB, {run['accepted_per_s']} readings/s accepted, "
                f"{run['delivered_per_s']} delivered, stopped in {run['stop_s']} s",
                flush=True,
            )
        profile = (
            await one_run(bed, "profiled", args, profile_s=args.profile) if args.profile else None
        )
        return results(args, bed, runs, profile)
    raise AssertionError("unreachable")  # for type checkers: the stack never swallows errors


def results(
    args: argparse.Namespace,
    bed: Testbed,
    runs: list[dict[str, Any]],
    profile: dict[str, Any] | None,
) -> dict[str, Any]:
    figures = {name: spread([run[name] for run in runs]) for name in FIGURES}
    cpu, rss = figures["cpu_percent_of_one_core"]["median"], figures["peak_rss_mb"]["median"]
    return {
        "benchmark": "footprint",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {**machine("mosquitto"), **describe()},
        "site": {
            "file": str(args.site),
            "id": bed.site.config.site.id,
            "scale": args.scale,
            "devices": len(bed.site.devices),
            "poll_interval_s": args.poll,
        },
        "warm_up_s": args.warm_up,
        "window_s": args.seconds,
        "figures": figures,
        "targets": {"cpu_percent_of_one_core": CPU_TARGET, "peak_rss_mb": RSS_TARGET_MB},
        "pass": cpu is not None and rss is not None and cpu < CPU_TARGET and rss < RSS_TARGET_MB,
        "runs": runs,
        "profile": profile,
    }


def print_table(document: dict[str, Any]) -> None:
    figures, site = document["figures"], document["site"]
    print()
    print(
        f"footprint: {site['id']} x{site['scale']}, {site['devices']} devices, poll "
        f"{site['poll_interval_s']:g} s, {figures['cpu_percent_of_one_core']['runs']} runs "
        f"of {document['window_s']:g} s (gateway process, from /proc)"
    )
    print(f"{'figure':<36}{'median':>10}{'min':>10}{'max':>10}  target")
    print("-" * 84)
    targets = {
        "cpu_percent_of_one_core": f"< {CPU_TARGET:g}%",
        "peak_rss_mb": f"< {RSS_TARGET_MB:g} MB",
    }
    for name in FIGURES:
        figure = figures[name]
        cells = "".join(f"{cell(figure[key]):>10}" for key in ("median", "min", "max"))
        print(f"{name:<36}{cells}  {targets.get(name, '')}".rstrip())
    print(f"targets met: {'PASS' if document['pass'] else 'FAIL'}")
    profile = document.get("profile")
    if profile:
        print_profile(profile)


def print_profile(profile: dict[str, Any]) -> None:
    if "error" in profile:
        print(f"profile: {profile['error']}")
        return
    print(f"\nprofile (py-spy, {profile['samples']} samples at {profile['rate_hz']} Hz):")
    for key, title in (
        ("top_own", "own time, all code"),
        ("top_inclusive_project", "inclusive, project code"),
    ):
        print(f"  {title}:")
        for row in profile[key]:
            print(f"    {row['percent']:>5.1f}%  {row['function']}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.footprint", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="the site file")
    parser.add_argument("--scale", type=int, default=1, help="copies of the site's devices")
    parser.add_argument("--poll", type=parse_duration, default=1.0, help="poll interval")
    parser.add_argument("--runs", type=int, help="measured runs (3; 1 with --quick)")
    parser.add_argument("--warm-up", type=float, help="seconds before the window (10; 3)")
    parser.add_argument("--seconds", type=float, help="the steady window (30; 10 with --quick)")
    parser.add_argument(
        "--profile",
        type=float,
        default=0.0,
        help="seconds of one more run sampled by py-spy (0: none)",
    )
    parser.add_argument("--quick", action="store_true", help="one run, 3 s warm-up, 10 s window")
    parser.add_argument(
        "--out", type=Path, help="JSON results (default bench/results/footprint[-quick].json)"
    )
    args = parser.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 3)
    args.warm_up = args.warm_up if args.warm_up is not None else (3.0 if args.quick else 10.0)
    args.seconds = args.seconds or (10.0 if args.quick else 30.0)
    if args.out is None:
        args.out = RESULTS / ("footprint-quick.json" if args.quick else "footprint.json")
    if args.runs < 1 or args.scale < 1 or args.seconds <= 0:
        parser.error("--runs and --scale must be at least 1, --seconds positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_part("footprint", args.out, lambda folder: run_benchmark(args, folder), print_table)


if __name__ == "__main__":
    raise SystemExit(main())
