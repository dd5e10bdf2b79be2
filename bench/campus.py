"""A campus: N gateways, one per building, against one broker and one InfluxDB: where the
shared side, not the gateway, becomes the limit.

    .venv/bin/python -m bench.campus [--site config/hospital.yaml] [--gateways 8]
        [--steps 1,2,4,8] [--scale 1] [--fires 3] [--seconds 20] [--settle 3] [--quick]
        [--out bench/results/campus[-quick].json]

One Mosquitto and one InfluxDB 1.x for the whole run. Each step runs N gateways (1, 2, 4, ...
up to `--gateways`): gateway i plays building i of the site (the reference site has four),
the fifth and later a copy of a building (ids suffixed `-x<k>`), each with its own site id
(`<site>-<building>`), simulators, outbox, feed topics and `bench.gateway_probe` process, all
writing to one database on the one InfluxDB. After every gateway is online, each gets
`--fires` fire trials at once (bench.trials), and the step lasts at least `--seconds`. Over that
window, from outside (/proc): the CPU of every gateway, of Mosquitto, of influxd and of this
process (all simulators); from each outbox file: readings accepted and delivered to InfluxDB.

Figures per step: alarm latency in the gateways (pooled over the gateways) and end to end,
readings accepted and delivered per second (all gateways), the backlog left at the end of the
window, and the CPU of each side. Delivered falling behind accepted, a backlog that grows, or
latency that grows with N while each gateway's own CPU stays flat is the shared side's limit.
On one 2-core machine everything shares the cores, so the machine is a limit too: the
simulators' and gateways' CPU is reported beside the servers' for that reason.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import random
import shlex
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bench.campus_step import Building, step_figures
from bench.entry import run_part
from bench.feed import FeedWatcher
from bench.looplag import LoopLag
from bench.machine import describe, machine
from bench.outboxfile import progress
from bench.processes import (
    cancel,
    gateway_process,
    read_report,
    start_simulators,
    stop_process,
    wait_until_running,
)
from bench.procstat import Watch
from bench.servers import InfluxDB, Mosquitto
from bench.site import DEFAULT_SITE, RESULTS, Influx, Part, building_ids, write_site
from bench.stats import cell
from bench.trials import Run, detector_plan, run_trials
from gateway.alarms import FeedTopics


async def start_building(
    stack: AsyncExitStack,
    args: argparse.Namespace,
    folder: Path,
    index: int,
    *,
    broker: Mosquitto,
    influx: Influx,
) -> Building:
    """Gateway `index`: its building's site, simulators, feed watcher and probe process."""
    buildings = building_ids(args.site)
    part = Part(buildings[index % len(buildings)], index // len(buildings))
    name = f"g{index}"
    site_file, site, simulated = await start_simulators(
        stack,
        lambda: write_site(
            args.site,
            folder,
            mqtt_port=broker.port,
            poll=1.0,
            scale=args.scale,
            influx=influx,
            part=part,
            name=name,
            outbox=f"{name}-outbox.sqlite",
        ),
        control_port=None,
    )
    watcher = await stack.enter_async_context(
        FeedWatcher(broker.host, broker.port, FeedTopics.for_site(site))
    )
    report, log = folder / f"{name}-report.json", folder / f"{name}.log"
    process = await stack.enter_async_context(gateway_process(site_file, log, report=report))
    return Building(name, site, simulated, watcher, process, report, log)


async def one_step(
    args: argparse.Namespace, folder: Path, gateways: int, broker: Mosquitto, influx: InfluxDB
) -> dict[str, Any]:
    """N gateways up, online, tried with fires over a measured window, then stopped."""
    database = f"campus_{gateways}"
    await influx.create_database(database)
    await asyncio.to_thread(folder.mkdir)
    async with AsyncExitStack() as stack:
        lag = LoopLag()
        stack.push_async_callback(cancel, asyncio.ensure_future(lag.run()))
        target = Influx(influx.url, database)
        buildings = [
            await start_building(stack, args, folder, index, broker=broker, influx=target)
            for index in range(gateways)
        ]
        for building in buildings:
            await wait_until_running(building.process, building.watcher, building.log)
        await asyncio.sleep(args.settle)  # every device polled
        watch = Watch(
            {
                **{b.name: b.process.pid for b in buildings},
                "mosquitto": broker.pid,
                "influxd": influx.pid,
                "simulators": os.getpid(),
            }
        )
        before = [progress(b.site.outbox_path) for b in buildings]
        watch.start()
        began = time.monotonic()
        runs = [
            Run(b.site, 1.0, random.Random(index), b.watcher, b.simulated, lag)
            for index, b in enumerate(buildings)
        ]
        await asyncio.gather(
            *(
                run_trials(run, detector_plan(b.site, args.fires), b.process, b.log)
                for run, b in zip(runs, buildings, strict=True)
            )
        )
        await asyncio.sleep(max(0.0, args.seconds - (time.monotonic() - began)))
        cpu = watch.stop()
        after = [progress(b.site.outbox_path) for b in buildings]
        for building in buildings:
            await stop_process(building.process)
        reports = [read_report(b.report) for b in buildings]
        return step_figures(buildings, runs, reports, cpu=cpu, before=before, after=after)
    raise AssertionError("unreachable")  # for type checkers: the stack never swallows errors


async def run_benchmark(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    steps = []
    async with Mosquitto() as broker, InfluxDB() as influx:
        print(
            f"campus: mosquitto on port {broker.port}, influxd on port {influx.port}; steps "
            f"{args.steps} gateways, {args.fires} fires each, >= {args.seconds:g} s each",
            flush=True,
        )
        for gateways in args.steps:
            step = await one_step(args, folder / f"step-{gateways}", gateways, broker, influx)
            steps.append(step)
            _print_step(step)
    return {
        "benchmark": "campus",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {**machine("mosquitto"), **describe()},
        "site": {
            "file": str(args.site),
            "scale_per_building": args.scale,
            "buildings": building_ids(args.site),
        },
        "fires_per_gateway": args.fires,
        "window_s": args.seconds,
        "steps": steps,
    }


def _print_step(step: dict[str, Any]) -> None:
    cpu = step["cpu_percent_of_one_core"]
    print(
        f"  {step['gateways']} gateways ({step['devices']} devices): in-gateway alarm p99 "
        f"{step['in_gateway']['p99_ms']} ms, end to end p99 {step['end_to_end']['p99_ms']} ms;"
        f" {step['accepted_per_s']:,.0f} readings/s accepted, {step['delivered_per_s']:,.0f} "
        f"delivered, backlog {step['backlog_at_end']}; CPU % of one core: gateways "
        f"{cpu['gateways_total']} (max one {cpu['gateway_max']}), mosquitto "
        f"{cpu['mosquitto']}, influxd {cpu['influxd']}, simulators {cpu['simulators']}",
        flush=True,
    )


def print_table(document: dict[str, Any]) -> None:
    print()
    print(
        f"campus: one Mosquitto, one InfluxDB; {document['fires_per_gateway']} fires per "
        f"gateway, window >= {document['window_s']:g} s per step"
    )
    header = (
        f"{'gateways':>8}{'devices':>8}{'alarm p99 in gw':>16}{'e2e p99':>9}"
        f"{'accepted/s':>11}{'delivered/s':>12}{'backlog':>8}{'gw CPU%':>8}"
        f"{'broker%':>8}{'influxd%':>9}{'sims%':>7}"
    )
    print(header)
    print("-" * len(header))
    for step in document["steps"]:
        cpu = step["cpu_percent_of_one_core"]
        print(
            f"{step['gateways']:>8}{step['devices']:>8}"
            f"{cell(step['in_gateway']['p99_ms']):>16}{cell(step['end_to_end']['p99_ms']):>9}"
            f"{step['accepted_per_s']:>11,.0f}{step['delivered_per_s']:>12,.0f}"
            f"{step['backlog_at_end']:>8}{cell(cpu['gateways_total']):>8}"
            f"{cell(cpu['mosquitto']):>8}{cell(cpu['influxd']):>9}"
            f"{cell(cpu['simulators']):>7}"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.campus", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="the site file")
    parser.add_argument("--gateways", type=int, help="the largest step (8; 2 with --quick)")
    parser.add_argument(
        "--steps",
        help="gateways per step, e.g. 1,2,4,8 (default: doubling from 1 up to --gateways)",
    )
    parser.add_argument("--scale", type=int, default=1, help="copies of each building's devices")
    parser.add_argument("--fires", type=int, help="fire trials per gateway and step (3; 2)")
    parser.add_argument("--seconds", type=float, help="shortest window per step (20; 8)")
    parser.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="seconds between all gateways online and the window",
    )
    parser.add_argument("--quick", action="store_true", help="steps 1 and 2, shorter windows")
    parser.add_argument(
        "--out", type=Path, help="JSON results (default bench/results/campus[-quick].json)"
    )
    args = parser.parse_args(argv)
    args.gateways = args.gateways or (2 if args.quick else 8)
    args.fires = args.fires or (2 if args.quick else 3)
    args.seconds = args.seconds or (8.0 if args.quick else 20.0)
    args.steps = [int(n) for n in args.steps.split(",")] if args.steps else _doubling(args.gateways)
    if args.out is None:
        args.out = RESULTS / ("campus-quick.json" if args.quick else "campus.json")
    if min(args.steps) < 1 or args.scale < 1 or args.fires < 1:
        parser.error("--gateways, --steps, --scale and --fires must be at least 1")
    return args


def _doubling(largest: int) -> list[int]:
    steps = [1]
    while steps[-1] * 2 < largest:
        steps.append(steps[-1] * 2)
    return sorted({*steps, largest})


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_part(
        "campus",
        args.out,
        lambda folder: run_benchmark(args, folder),
        print_table,
        passed=lambda _: True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
