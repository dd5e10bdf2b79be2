"""Many small Modbus endpoints: the reference site laid out as one Modbus TCP endpoint per
device (`bench.modbus_endpoints_site`), polled at 1 s, against a bare pymodbus loop.

    .venv/bin/python -m bench.modbus_endpoints [--scale 1] [--seconds 60] [--runs 1]
        [--quick] [--out bench/results/modbus-endpoints-x1.json]

The site's Modbus simulators (cameras left out) run in this process; each run measures, in
the same run and on the same simulators:

(a) a bare loop, as a process of its own (`--bare-loop`): one `AsyncModbusTcpClient` per
    endpoint, each reading its device's merged blocks once per poll interval from a random
    phase, nothing else: CPU seconds per request, the yardstick of issue 19; and the same
    loop with its phases on the gateway's shared grid of 100 ms ticks (`--grid`), which
    shows how much of a poll's cost is waking up for it;
(b) the gateway (`firegw run`, no broker, readings kept in the outbox): seconds from its start
    to the first reading stored, then over `--seconds` its CPU share of one core, its CPU per
    answered request (a detector's `status` or a hydrant's `loop_current` stored is one
    answered poll, one request with one device per endpoint), and its RSS every 5 s, with
    the drift of a straight line fitted through them (MB/min: is it flat?).

The figure of merit is (b)'s CPU per request over (a)'s from random phases (issue 19: within
1.5x); over the bare loop on the grid it is shown too. CPU figures on a shared machine are
noisy: take the median of several runs.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import random
import re
import resource
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pymodbus.client import AsyncModbusTcpClient

from bench.entry import run_part
from bench.machine import machine
from bench.modbus_endpoints_site import one_endpoint_per_device
from bench.outboxfile import progress
from bench.processes import gateway_process, log_tail
from bench.procstat import sample
from bench.site import DEFAULT_SITE, RESULTS, write_site
from bench.stats import spread
from drivers.modbus.cycle import TICK
from drivers.modbus.merge import plan_requests
from drivers.modbus.spec import ModbusEndpointSpec
from gateway.config import load_site
from gateway.outbox import read_lines
from gateway.runtime.wiring import modbus_endpoints
from simulators import SimulatedSite

POLL = 1.0
WARM_UP = 5.0
RSS_EVERY = 5.0
FIRST_TIMEOUT = 120.0
RATIO_TARGET = 1.5
ANSWERED = re.compile(r" (status|loop_current)=")
"""A line of one answered poll: a detector's `status` or a hydrant's `loop_current` read."""


def write_modbus_site(folder: Path, scale: int) -> Path:
    """The reference site at `scale`, cameras left out, one endpoint per Modbus device."""
    site_file = write_site(DEFAULT_SITE, folder, mqtt_port=1, poll=POLL, scale=scale)
    document = yaml.safe_load(site_file.read_text(encoding="utf-8"))
    document.pop("mqtt", None)
    document["devices"] = [d for d in document["devices"] if "endpoint" in d["source"]]
    document.pop("rules", None)
    one_endpoint_per_device(document)
    site_file.write_text(yaml.safe_dump(document, sort_keys=False, width=200), encoding="utf-8")
    return site_file


# (a) the bare loop, in a process of its own


async def _bare_endpoint(
    spec: ModbusEndpointSpec,
    counts: list[int],
    rng: random.Random,
    stop: asyncio.Event,
    *,
    grid: bool,
) -> None:
    blocks = plan_requests(spec.devices, spec.merge_gap)
    client = AsyncModbusTcpClient(spec.host or "127.0.0.1", port=spec.port, timeout=spec.timeout)
    await client.connect()
    loop = asyncio.get_running_loop()
    if grid:  # a random tick of the first second, as drivers.modbus.cycle does
        due = math.ceil(loop.time() / TICK) * TICK + rng.randrange(round(POLL / TICK)) * TICK
    else:
        due = loop.time() + rng.uniform(0.0, POLL)
    try:
        while not stop.is_set():  # pymodbus may swallow a cancellation (see drivers.modbus.link)
            await asyncio.sleep(max(0.0, due - loop.time()))
            due += POLL
            for block in blocks:
                response = await client.read_input_registers(
                    block.address, count=block.count, device_id=block.unit
                )
                counts[0 if not response.isError() else 1] += 1
    finally:
        client.close()


async def bare_loop(site_file: Path, seconds: float, *, grid: bool = False) -> dict[str, Any]:
    """(a): every endpoint polled by a bare client; CPU per request of this process."""
    specs = modbus_endpoints(load_site(site_file))
    counts, rng, stop = [0, 0], random.Random(1), asyncio.Event()
    tasks = [
        asyncio.create_task(_bare_endpoint(spec, counts, rng, stop, grid=grid)) for spec in specs
    ]
    await asyncio.sleep(WARM_UP)
    cpu, start, before = time.process_time(), time.monotonic(), counts[0]
    await asyncio.sleep(seconds)
    cpu, wall, requests = time.process_time() - cpu, time.monotonic() - start, counts[0] - before
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "endpoints": len(specs),
        "window_s": round(wall, 2),
        "requests": requests,
        "errors": counts[1],
        "requests_per_s": round(requests / wall, 1),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 2),
        "cpu_ms_per_request": round(1000 * cpu / requests, 4) if requests else None,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


async def run_bare(site_file: Path, seconds: float, *, grid: bool = False) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.modbus_endpoints", "--bare-loop", str(site_file)]
    process = await asyncio.create_subprocess_exec(
        *command,
        "--seconds",
        str(seconds),
        *(["--grid"] if grid else []),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the bare loop failed (exit status {process.returncode})")
    document: dict[str, Any] = json.loads(out)
    return document


# (b) the gateway


def answered(outbox: Path) -> int:
    """Answered polls stored so far (see the module)."""
    return sum(1 for _, line in read_lines(outbox) if ANSWERED.search(line))


def drift_mb_per_min(points: list[tuple[float, int]]) -> float | None:
    """The slope of a least-squares line through (seconds, kB), in MB per minute."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_r = sum(r for _, r in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (r - mean_r) for t, r in points)
    return round(cov / var * 60 / 1024, 3) if var else None


async def gateway_run(site_file: Path, folder: Path, seconds: float) -> dict[str, Any]:
    outbox, log = folder / "outbox.sqlite", folder / "gateway.log"
    spawned = time.monotonic()
    async with gateway_process(site_file, log) as process:
        while (stored := progress(outbox)) is None or stored.accepted == 0:
            if process.returncode is not None or time.monotonic() - spawned > FIRST_TIMEOUT:
                raise RuntimeError(f"no reading stored; {log_tail(log)}")
            await asyncio.sleep(0.05)
        first_stored = time.monotonic() - spawned
        await asyncio.sleep(WARM_UP)
        first, polls = sample(process.pid), answered(outbox)
        rss: list[tuple[float, int]] = [(0.0, first.rss_kb)]
        while (elapsed := time.monotonic() - first.at) < seconds:
            await asyncio.sleep(min(RSS_EVERY, seconds - elapsed))
            now = sample(process.pid)
            rss.append((now.at - first.at, now.rss_kb))
        last, polls = sample(process.pid), answered(outbox) - polls
    wall, cpu = last.at - first.at, last.cpu_s - first.cpu_s
    return {
        "first_reading_stored_s": round(first_stored, 2),
        "window_s": round(wall, 2),
        "requests": polls,
        "requests_per_s": round(polls / wall, 1),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 2),
        "cpu_ms_per_request": round(1000 * cpu / polls, 4) if polls else None,
        "rss_mb": round(last.rss_kb / 1024, 1),
        "peak_rss_mb": round(last.peak_rss_kb / 1024, 1),
        "rss_drift_mb_per_min": drift_mb_per_min(rss),
        "rss_kb_samples": [kb for _, kb in rss],
    }


async def one_run(folder: Path, scale: int, seconds: float) -> dict[str, Any]:
    site_file = write_modbus_site(folder, scale)
    site = load_site(site_file)
    async with SimulatedSite(site, control_port=None):
        bare = await run_bare(site_file, min(seconds, 30.0))
        bare_on_grid = await run_bare(site_file, min(seconds, 30.0), grid=True)
        gateway = await gateway_run(site_file, folder, seconds)
    return {
        "endpoints": len(site.config.modbus.endpoints),
        "bare_loop": bare,
        "bare_loop_on_grid": bare_on_grid,
        "gateway": gateway,
        "cpu_per_request_ratio": _ratio(gateway, bare),
        "cpu_per_request_ratio_on_grid": _ratio(gateway, bare_on_grid),
    }


def _ratio(gateway: dict[str, Any], bare: dict[str, Any]) -> float | None:
    mine, theirs = gateway["cpu_ms_per_request"], bare["cpu_ms_per_request"]
    return round(mine / theirs, 2) if mine and theirs else None


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    runs = []
    for number in range(args.runs):
        run_folder = folder / f"run-{number + 1}"
        run_folder.mkdir()
        print(f"run {number + 1} of {args.runs}: {args.scale}x, {args.seconds:g} s", flush=True)
        runs.append(await one_run(run_folder, args.scale, args.seconds))

    def figures(*path: str) -> dict[str, Any]:
        values = []
        for document in runs:
            value: Any = document
            for key in path:
                value = value[key]
            values.append(value)
        return spread(values)

    ratio = figures("cpu_per_request_ratio")
    return {
        "benchmark": "modbus_endpoints",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine("none"),
        "scale": args.scale,
        "endpoints": runs[0]["endpoints"],
        "runs": runs,
        "median": {
            "gateway_cpu_percent_of_one_core": figures("gateway", "cpu_percent_of_one_core"),
            "gateway_cpu_ms_per_request": figures("gateway", "cpu_ms_per_request"),
            "bare_cpu_ms_per_request": figures("bare_loop", "cpu_ms_per_request"),
            "cpu_per_request_ratio": ratio,
            "bare_on_grid_cpu_ms_per_request": figures("bare_loop_on_grid", "cpu_ms_per_request"),
            "cpu_per_request_ratio_on_grid": figures("cpu_per_request_ratio_on_grid"),
            "rss_mb": figures("gateway", "rss_mb"),
            "rss_drift_mb_per_min": figures("gateway", "rss_drift_mb_per_min"),
            "first_reading_stored_s": figures("gateway", "first_reading_stored_s"),
        },
        "ratio_target": RATIO_TARGET,
        "pass": ratio["median"] is not None and ratio["median"] <= RATIO_TARGET,
    }


def print_table(document: dict[str, Any]) -> None:
    print(f"\n{document['endpoints']} endpoints ({document['scale']}x), one device each, 1 s poll")
    for name, figure in document["median"].items():
        print(f"  {name:34} median {figure['median']}  ({figure['min']} - {figure['max']})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.modbus_endpoints")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="20 s windows")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--bare-loop", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--grid", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 20.0
    if args.out is None:
        args.out = RESULTS / f"modbus-endpoints-x{args.scale}.json"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bare_loop is not None:
        print(json.dumps(asyncio.run(bare_loop(args.bare_loop, args.seconds, grid=args.grid))))
        return 0
    return run_part("modbus-endpoints", args.out, lambda folder: run(args, folder), print_table)


if __name__ == "__main__":
    sys.exit(main())
