"""Start-up to the first reading stored, and shutdown with the outbox flushed (targets:
under 1 s; under 2 s).

    .venv/bin/python -m bench.startup [--site config/hospital.yaml] [--scale 1] [--runs 5]
        [--steady 3] [--quick] [--out bench/results/startup[-quick].json]

Mosquitto, InfluxDB 1.x and the site's simulators are started once (`bench.testbed`). Each run
starts plain `firegw run` (`python -m firegw run`) with a fresh outbox and a fresh database,
and times, from just before the process is spawned (interpreter start and imports included):

- to the first line in the outbox: the outbox file's highest id handed out is above 0 (read
  from outside, read-only, every 5 ms);
- to the first line in InfluxDB: the database has a measurement (asked every 5 ms).

After `--steady` seconds of normal work the gateway gets SIGTERM, and the shutdown is timed
from the signal to the process's exit. The outbox is flushed when the process exited with
status 0, logged `outbox flushed: N readings written this run`, and the outbox file holds
exactly N lines accepted: nothing accepted was left in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import re
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import targets
from bench.entry import run_part
from bench.machine import describe, machine
from bench.outboxfile import progress
from bench.processes import (
    STOP_TIMEOUT,
    gateway_command,
    log_lines,
    log_tail,
    start,
    stop_process,
)
from bench.site import DEFAULT_SITE, RESULTS
from bench.stats import spread
from bench.testbed import RunFiles, Testbed, open_testbed

STARTUP_TARGET = targets.STARTUP_S
STOP_TARGET = targets.STOP_S
FIRST_TIMEOUT = 30.0
POLL = 0.005
FLUSHED = re.compile(r"outbox flushed: (\d+) readings written this run")
FIGURES = ("to_first_in_outbox_s", "to_first_in_influxdb_s", "stop_s")


async def first_stored(
    bed: Testbed, files: RunFiles, process: asyncio.subprocess.Process, spawned: float
) -> tuple[float, float]:
    """Seconds from `spawned` to the first line in the outbox, and in InfluxDB."""
    in_outbox = in_influx = None
    while in_outbox is None or in_influx is None:
        if process.returncode is not None:
            raise RuntimeError(f"the gateway exited at start-up; {log_tail(files.log)}")
        if time.monotonic() - spawned > FIRST_TIMEOUT:
            raise RuntimeError(
                f"no reading stored after {FIRST_TIMEOUT:g} s; {log_tail(files.log)}"
            )
        now = time.monotonic()
        stored = progress(files.outbox) if in_outbox is None else None
        if stored is not None and stored.accepted > 0:
            in_outbox = now - spawned
        if in_influx is None and await bed.influx.has_points(files.database):
            in_influx = time.monotonic() - spawned
        await asyncio.sleep(POLL)
    return in_outbox, in_influx


async def one_run(bed: Testbed, name: str, steady: float) -> dict[str, Any]:
    """Start a fresh gateway, time its first stored reading, let it work, time its stop."""
    files = await bed.fresh(name)
    spawned = time.monotonic()
    process = await start(gateway_command(files.site_file, None), files.log)
    try:
        in_outbox, in_influx = await first_stored(bed, files, process, spawned)
        await asyncio.sleep(steady)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        stop_s = time.monotonic() - signalled
    finally:
        await stop_process(process)  # only if it is still there (an error above)
    return {
        "to_first_in_outbox_s": round(in_outbox, 3),
        "to_first_in_influxdb_s": round(in_influx, 3),
        "stop_s": round(stop_s, 3),
        **_flushed(files, process.returncode),
    }


def _flushed(files: RunFiles, status: int | None) -> dict[str, Any]:
    logged = [
        int(match.group(1)) for line in log_lines(files.log) if (match := FLUSHED.search(line))
    ]
    stored = progress(files.outbox)
    accepted = stored.accepted if stored else 0
    return {
        "exit_status": status,
        "written_logged": logged[-1] if logged else None,
        "accepted_in_file": accepted,
        "flushed": status == 0 and bool(logged) and logged[-1] == accepted,
    }


async def run_benchmark(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    async with open_testbed(folder, args.site, scale=args.scale, poll=1.0) as bed:
        print(bed.describe(), flush=True)
        await asyncio.sleep(1.0)  # the simulators settle (cameras connect)
        runs = []
        for number in range(1, args.runs + 1):
            run = await one_run(bed, f"start{number}", args.steady)
            runs.append(run)
            print(
                f"  run {number}: first reading in the outbox after "
                f"{run['to_first_in_outbox_s']} s, in InfluxDB after "
                f"{run['to_first_in_influxdb_s']} s; stopped in {run['stop_s']} s, "
                f"flushed: {run['flushed']}",
                flush=True,
            )
        return results(args, bed, runs)
    raise AssertionError("unreachable")  # for type checkers: the stack never swallows errors


def results(args: argparse.Namespace, bed: Testbed, runs: list[dict[str, Any]]) -> dict[str, Any]:
    figures = {name: spread([run[name] for run in runs]) for name in FIGURES}
    worst_start = figures["to_first_in_influxdb_s"]["median"]
    worst_stop = figures["stop_s"]["median"]
    return {
        "benchmark": "startup",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {**machine("mosquitto"), **describe()},
        "site": {
            "file": str(args.site),
            "id": bed.site.config.site.id,
            "scale": args.scale,
            "devices": len(bed.site.devices),
        },
        "steady_s": args.steady,
        "figures": figures,
        "targets": {
            "to_first_in_outbox_s": STARTUP_TARGET,
            "to_first_in_influxdb_s": STARTUP_TARGET,
            "stop_s": STOP_TARGET,
        },
        "pass": (
            worst_start is not None
            and worst_start < STARTUP_TARGET
            and worst_stop is not None
            and worst_stop < STOP_TARGET
            and all(run["flushed"] for run in runs)
        ),
        "runs": runs,
    }


def print_table(document: dict[str, Any]) -> None:
    figures, site = document["figures"], document["site"]
    print()
    print(
        f"start-up and shutdown: {site['id']} x{site['scale']}, {site['devices']} devices, "
        f"{len(document['runs'])} runs"
    )
    print(f"{'figure':<40}{'median':>9}{'min':>9}{'max':>9}  target")
    print("-" * 80)
    labels = {
        "to_first_in_outbox_s": "start -> first reading in the outbox",
        "to_first_in_influxdb_s": "start -> first reading in InfluxDB",
        "stop_s": "SIGTERM -> exit, outbox flushed",
    }
    for name, label in labels.items():
        figure = figures[name]
        cells = "".join(f"{figure[key]:>8.3f}s" for key in ("median", "min", "max"))
        print(f"{label:<40}{cells}  < {document['targets'][name]:g} s")
    flushed = sum(run["flushed"] for run in document["runs"])
    print(
        f"outbox flushed on every stop: {flushed}/{len(document['runs'])}; targets met: "
        f"{'PASS' if document['pass'] else 'FAIL'}"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="the site file")
    parser.add_argument("--scale", type=int, default=1, help="copies of the site's devices")
    parser.add_argument("--runs", type=int, help="start-stop cycles (5; 2 with --quick)")
    parser.add_argument(
        "--steady",
        type=float,
        default=3.0,
        help="seconds of work between the first stored reading and SIGTERM",
    )
    parser.add_argument("--quick", action="store_true", help="two runs")
    parser.add_argument(
        "--out", type=Path, help="JSON results (default bench/results/startup[-quick].json)"
    )
    args = parser.parse_args(argv)
    args.runs = args.runs or (2 if args.quick else 5)
    if args.out is None:
        args.out = RESULTS / ("startup-quick.json" if args.quick else "startup.json")
    if args.runs < 1 or args.scale < 1 or args.steady < 0:
        parser.error("--runs and --scale must be at least 1, --steady not negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_part("startup", args.out, lambda folder: run_benchmark(args, folder), print_table)


if __name__ == "__main__":
    raise SystemExit(main())
