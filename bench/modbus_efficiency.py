"""Modbus polling efficiency: merged requests, and the polling rate against
a bare pymodbus read loop on the same simulator.

    .venv/bin/python -m bench.modbus_efficiency [--site config/hospital.yaml] [--endpoint ID]
        [--seconds 10] [--site-seconds 10] [--quick] [--out bench/results/modbus-efficiency.json]

The site's Modbus simulators (`SimulatedSite`, cameras left out: no MQTT) on free loopback
ports, in this process, and three measurements against them:

(a) bare loop: one `AsyncModbusTcpClient`, `read_input_registers` of one detector block at a
    time (the registers its profile reads), over every detector of one panel endpoint, back to
    back, for `--seconds`: requests/s and registers/s.
(a') the same bare loop sending the gateway's own merged requests instead (same sizes as
    (b)), so that requests/s compare like for like.
(b) gateway: `ModbusDriver` on that same endpoint (`gateway.runtime.modbus_endpoints`) with the
    site's `defaults.poll_interval` set to 1 ms (validation only asks for > 0), so cycles run
    back to back, for `--seconds`: readings delivered, the endpoint stats' requests, and
    registers (each cycle reads the merged plan's registers): requests/s and registers/s.
    The ratio gateway / bare loop of registers/s is the figure of merit (target: at least 1);
    requests/s are reported too (merging makes the gateway's requests larger and fewer).
(c) the whole site at the real 1 s poll interval for `--site-seconds`: requests per cycle of
    each endpoint (`EndpointStats.requests / cycles`) summed over the endpoints is the number
    of requests per second the site needs (target: a few dozen, against 395 for a gateway
    that reads one register per request).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from bench import targets
from bench.machine import machine
from core.reading import Reading
from drivers.modbus import ModbusDriver
from drivers.modbus.merge import plan_requests
from drivers.modbus.spec import ModbusEndpointSpec
from firegw.demo import relocate
from gateway.config import Site, load_site
from gateway.config.models import ModbusSource
from gateway.runtime.wiring import modbus_endpoints
from simulators import SimulatedSite

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SITE = REPO / "config" / "hospital.yaml"
RESULTS = REPO / "bench" / "results"
FAST_POLL = 0.001
RATIO_TARGET = targets.MODBUS_REGISTER_RATIO
ONE_REGISTER_PER_REQUEST = 395
"""The ThingsBoard IoT Gateway 3.8's requests per second on the reference site."""


def modbus_only(site: Site, poll: float) -> Site:
    """`site` without its MQTT devices and broker, every Modbus device polled every `poll` s."""
    config = site.config
    devices = tuple(d for d in config.devices if isinstance(d.source, ModbusSource))
    return Site(
        site.path,
        config.model_copy(
            update={
                "devices": devices,
                "mqtt": None,
                "influxdb": None,
                "defaults": config.defaults.model_copy(update={"poll_interval": poll}),
            }
        ),
        site.profiles,
    )


def registers_per_cycle(spec: ModbusEndpointSpec) -> tuple[int, int]:
    """(requests, registers) of one healthy cycle of `spec`'s devices, as the poller plans it."""
    requests = plan_requests(spec.devices, spec.merge_gap)
    return len(requests), sum(request.count for request in requests)


async def bare_loop(
    spec: ModbusEndpointSpec, seconds: float, *, merged: bool = False
) -> dict[str, Any]:
    """One request per device block (or the gateway's merged plan), back to back."""
    blocks = (
        plan_requests(spec.devices, spec.merge_gap)
        if merged
        else [request for device in spec.devices for request in plan_requests([device])]
    )
    client = AsyncModbusTcpClient(spec.host or "127.0.0.1", port=spec.port, timeout=spec.timeout)
    await client.connect()
    if not client.connected:
        raise RuntimeError(f"bare loop: cannot connect to {spec.host}:{spec.port}")
    requests = registers = errors = 0
    try:
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            for block in blocks:
                response = await client.read_input_registers(
                    block.address, count=block.count, device_id=block.unit
                )
                requests += 1
                if response.isError() or len(response.registers) < block.count:
                    errors += 1
                else:
                    registers += block.count
        elapsed = time.perf_counter() - start
    finally:
        client.close()
    return {
        "devices": len(spec.devices),
        "registers_per_request": round(sum(b.count for b in blocks) / len(blocks), 1),
        "seconds": round(elapsed, 3),
        "requests": requests,
        "registers": registers,
        "errors": errors,
        "requests_per_s": round(requests / elapsed, 1),
        "registers_per_s": round(registers / elapsed, 1),
    }


class Counting:
    """A sink that counts readings (good ones apart)."""

    def __init__(self) -> None:
        self.readings = 0
        self.good = 0

    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.readings += len(readings)
        self.good += sum(1 for reading in readings if reading.good)


async def run_driver(
    specs: Sequence[ModbusEndpointSpec], seconds: float, warm_up: float = 10.0
) -> tuple[float, dict[str, dict[str, int]], Counting]:
    """Run a driver; counters over `seconds` once every endpoint has answered once."""
    driver = ModbusDriver(specs)
    sink = Counting()
    task = asyncio.create_task(driver.run(sink))
    try:
        began = time.perf_counter()
        while not all(stats.responses for stats in driver.stats.values()):
            if time.perf_counter() - began > warm_up:
                raise RuntimeError("the driver got no responses from every endpoint")
            await asyncio.sleep(0.01)
        before = {key: dict(vars(stats)) for key, stats in driver.stats.items()}
        readings_before = sink.readings
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - start
        after = {key: dict(vars(stats)) for key, stats in driver.stats.items()}
        readings = sink.readings - readings_before
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    counters = (
        "cycles",
        "polls",
        "requests",
        "responses",
        "timeouts",
        "exceptions",
        "disconnected",
    )
    deltas = {
        key: {name: after[key][name] - before[key][name] for name in counters} for key in after
    }
    sink.readings = readings
    return elapsed, deltas, sink


async def gateway_loop(spec: ModbusEndpointSpec, seconds: float) -> dict[str, Any]:
    elapsed, deltas, sink = await run_driver([spec], seconds)
    stats = deltas[spec.id]
    plan_requests_, plan_registers = registers_per_cycle(spec)
    registers = stats["cycles"] * plan_registers
    return {
        "poll_interval_s": FAST_POLL,
        "seconds": round(elapsed, 3),
        "cycles": stats["cycles"],
        "requests": stats["requests"],
        "requests_per_cycle": round(stats["requests"] / max(stats["cycles"], 1), 2),
        "planned_requests_per_cycle": plan_requests_,
        "registers_per_cycle": plan_registers,
        "registers": registers,
        "readings": sink.readings,
        "stats": stats,
        "requests_per_s": round(stats["requests"] / elapsed, 1),
        "registers_per_s": round(registers / elapsed, 1),
        "readings_per_s": round(sink.readings / elapsed, 1),
    }


async def whole_site(site: Site, seconds: float) -> dict[str, Any]:
    specs = modbus_endpoints(site)
    elapsed, deltas, sink = await run_driver(specs, seconds)
    endpoints = {}
    for spec in specs:
        stats = deltas[spec.id]
        plan_requests_, plan_registers = registers_per_cycle(spec)
        endpoints[spec.id] = {
            "devices": len(spec.devices),
            "cycles": stats["cycles"],
            "requests": stats["requests"],
            "requests_per_cycle": round(stats["requests"] / max(stats["cycles"], 1), 2),
            "planned_requests_per_cycle": plan_requests_,
            "registers_per_cycle": plan_registers,
            "timeouts": stats["timeouts"],
            "exceptions": stats["exceptions"],
        }
    needed = sum(endpoint["requests_per_cycle"] for endpoint in endpoints.values())
    registers = sum(endpoint["registers_per_cycle"] for endpoint in endpoints.values())
    return {
        "poll_interval_s": 1.0,
        "seconds": round(elapsed, 3),
        "devices": sum(len(spec.devices) for spec in specs),
        "endpoints": endpoints,
        "requests_per_s_needed": round(needed, 2),
        "registers_per_s_read": registers,
        "requests_per_s_measured": round(sum(s["requests"] for s in deltas.values()) / elapsed, 1),
        "readings_per_s_measured": round(sink.readings / elapsed, 1),
        "one_register_per_request_gateway": ONE_REGISTER_PER_REQUEST,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    loaded = load_site(args.site)
    site = modbus_only(relocate(loaded, mqtt_port=1), 1.0)
    fast = modbus_only(site, FAST_POLL)
    panel = next(spec for spec in modbus_endpoints(fast) if spec.id == args.endpoint)
    async with SimulatedSite(site, control_port=None):
        print(
            f"(a) bare pymodbus loop on {panel.id} ({len(panel.devices)} devices), "
            f"{args.seconds:g} s",
            flush=True,
        )
        bare = await bare_loop(panel, args.seconds)
        print(
            f"(a') bare pymodbus loop on {panel.id}, the gateway's merged requests, "
            f"{args.seconds:g} s",
            flush=True,
        )
        bare_merged = await bare_loop(panel, args.seconds, merged=True)
        print(
            f"(b) gateway ModbusDriver on {panel.id}, poll {FAST_POLL * 1000:g} ms, "
            f"{args.seconds:g} s",
            flush=True,
        )
        gateway = await gateway_loop(panel, args.seconds)
        print(f"(c) whole site, poll 1 s, {args.site_seconds:g} s", flush=True)
        total = await whole_site(site, args.site_seconds)
    ratio = gateway["registers_per_s"] / bare["registers_per_s"]
    return {
        "benchmark": "modbus_efficiency",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine("none"),
        "site": {
            "file": str(args.site),
            "id": loaded.config.site.id,
            "modbus_devices": len(site.config.devices),
            "modbus_endpoints": len(site.config.modbus.endpoints),
        },
        "endpoint": panel.id,
        "bare_loop": bare,
        "bare_loop_merged_requests": bare_merged,
        "gateway": gateway,
        "ratio_registers_per_s": round(ratio, 3),
        "ratio_requests_per_s": round(gateway["requests_per_s"] / bare["requests_per_s"], 3),
        "ratio_requests_per_s_same_requests": round(
            gateway["requests_per_s"] / bare_merged["requests_per_s"], 3
        ),
        "ratio_target": RATIO_TARGET,
        "whole_site": total,
        "pass": ratio >= RATIO_TARGET
        and total["requests_per_s_needed"] < 100
        and bare["errors"] == 0
        and bare_merged["errors"] == 0,
    }


def print_table(document: dict[str, Any]) -> None:
    bare, gateway, total = document["bare_loop"], document["gateway"], document["whole_site"]
    print()
    print(
        f"modbus efficiency: {document['site']['id']}, endpoint {document['endpoint']} "
        f"({bare['devices']} devices)"
    )
    print(f"{'':<36}{'requests/s':>12}{'registers/s':>13}{'regs/request':>14}")
    print("-" * 75)
    print(
        f"{'(a) bare pymodbus loop':<36}{bare['requests_per_s']:>12,.0f}"
        f"{bare['registers_per_s']:>13,.0f}{bare['registers_per_request']:>14}"
    )
    merged = document["bare_loop_merged_requests"]
    label = "(a') bare loop, gateway's requests"
    print(
        f"{label:<36}{merged['requests_per_s']:>12,.0f}"
        f"{merged['registers_per_s']:>13,.0f}{merged['registers_per_request']:>14}"
    )
    per_request = gateway["registers_per_cycle"] / max(gateway["planned_requests_per_cycle"], 1)
    print(
        f"{'(b) gateway ModbusDriver, 1 ms poll':<36}{gateway['requests_per_s']:>12,.0f}"
        f"{gateway['registers_per_s']:>13,.0f}{per_request:>14.1f}"
    )
    verdict = "PASS" if document["ratio_registers_per_s"] >= RATIO_TARGET else "FAIL"
    print(
        f"gateway / bare loop: registers/s {document['ratio_registers_per_s']:.2f} "
        f"(target >= {RATIO_TARGET:.2f}: {verdict}), requests/s "
        f"{document['ratio_requests_per_s']:.2f} (same requests as (a'): "
        f"{document['ratio_requests_per_s_same_requests']:.2f}); gateway delivered "
        f"{gateway['readings_per_s']:,.0f} readings/s"
    )
    print()
    print(f"(c) whole site at 1 s poll ({total['devices']} Modbus devices):")
    print(f"  {'endpoint':<12}{'devices':>8}{'requests/cycle':>16}{'registers/cycle':>17}")
    for name, endpoint in total["endpoints"].items():
        print(
            f"  {name:<12}{endpoint['devices']:>8}{endpoint['requests_per_cycle']:>16g}"
            f"{endpoint['registers_per_cycle']:>17}"
        )
    print(
        f"  requests per second the site needs: {total['requests_per_s_needed']:g} "
        f"(measured {total['requests_per_s_measured']:g}/s), against "
        f"{ONE_REGISTER_PER_REQUEST} for one request per register"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.modbus_efficiency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="the site file")
    parser.add_argument("--endpoint", default="opd-panel", help="the endpoint of (a) and (b)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of (a) and (b)")
    parser.add_argument("--site-seconds", type=float, default=10.0, help="length of (c)")
    parser.add_argument("--quick", action="store_true", help="2 s for (a) and (b), 3 s for (c)")
    parser.add_argument("--out", type=Path, default=RESULTS / "modbus-efficiency.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.site_seconds = 2.0, 3.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        document = asyncio.run(run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print_table(document)
    print(f"results: {args.out}")
    return 0 if document["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
