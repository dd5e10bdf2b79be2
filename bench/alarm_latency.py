"""Alarm latency at reference-site scale and above, on real processes and sockets.

    .venv/bin/python -m bench.alarm_latency [--site config/hospital.yaml] [--fires 60]
        [--poll 1s] [--scale 1] [--seed 1] [--out bench/results/alarm-latency.json]

A private Mosquitto (`EmbeddedBroker`), the site's simulators in this process, and the gateway
in a process of its own (`bench.gateway_probe`, which is `firegw run` plus a report on exit),
all on free loopback ports. A separate MQTT client watches `<prefix>/<site>/events`. Each trial
sets one smoke detector in fire and times it:

- end to end: from the simulator's state change (right after `SimulatedSite.apply("fire")`
  returns: the registers are updated at once) to the `raised` event of `fire:<device>` at the
  subscriber. The gateway only sees the change at the device's next poll, so this is roughly
  uniform over 0..poll interval plus the gateway's own part. Target: p99 < poll + 50 ms.
- in the gateway: `AlarmService.latencies`, from a reading's arrival at the alarm service to
  its `raised` event acknowledged by the broker. Target: p99 < 10 ms.

Then the detector is cleared, and once the gateway has seen that (`returned_to_normal`), the
latched fire is reset by a `reset` command, as the security office would. Detectors are taken
zone by zone, and a zone is used again only after the 60 s coincidence window, so no
`confirmed_fire` interferes. `--scale 10` runs ten copies of every zone, endpoint and device.

Everything is torn down on exit, also on Ctrl-C, SIGTERM or an error. The pieces are shared
with the other benchmarks: the site (bench/site.py), the gateway process and the simulators
(bench/processes.py), the subscriber (bench/feed.py), the trials (bench/trials.py), the
percentiles (bench/stats.py); this module runs them and reports.
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

from bench import targets
from bench.entry import run_part
from bench.feed import FeedWatcher
from bench.looplag import LoopLag
from bench.machine import machine, source_digest
from bench.processes import (
    cancel,
    gateway_process,
    read_report,
    start_simulators,
    stop_process,
    wait_until_running,
    warnings_in,
)
from bench.site import DEFAULT_SITE, RESULTS, write_site
from bench.stats import ms, summary
from bench.trials import Run, detector_plan, line_up, run_trials
from firegw.embedded_broker import EmbeddedBroker
from gateway.alarms import FeedTopics
from rules import DeviceKind, parse_duration

GATEWAY_TARGET = targets.IN_GATEWAY_P99_S
MARGIN = targets.END_TO_END_MARGIN_S


async def run_benchmark(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Start everything, run the trials, stop everything; the results as a JSON object."""
    report, log = folder / "gateway-report.json", folder / "gateway.log"
    async with AsyncExitStack() as stack:
        broker = await stack.enter_async_context(EmbeddedBroker())
        site_file, site, simulated = await start_simulators(
            stack,
            lambda: write_site(
                args.site, folder, mqtt_port=broker.port, poll=args.poll, scale=args.scale
            ),
        )
        topics = FeedTopics.for_site(site)
        watcher = await stack.enter_async_context(FeedWatcher(broker.host, broker.port, topics))
        lag = LoopLag()
        lag_task = asyncio.create_task(lag.run(), name="loop lag")
        stack.push_async_callback(cancel, lag_task)
        print(
            f"{site.config.site.id}: {len(site.devices)} devices, {len(site.zones)} zones, "
            f"{len(site.config.modbus.endpoints)} Modbus endpoints, poll {args.poll:g} s; "
            f"broker {broker.name} on port {broker.port}",
            flush=True,
        )
        source = source_digest()  # the code the gateway is about to import
        load_at_start = os.getloadavg()
        started = time.monotonic()
        process = await stack.enter_async_context(gateway_process(site_file, log, report=report))
        await wait_until_running(process, watcher, log)
        startup = time.monotonic() - started
        await asyncio.sleep(max(3.0, 3 * args.poll))  # every device polled a few times
        run = Run(site, args.poll, random.Random(args.seed), watcher, simulated, lag)
        await run_trials(run, detector_plan(site, args.fires), process, log)
        trials_ended = time.monotonic()
        stop_s = await stop_process(process)
        gateway = line_up(read_report(report), run.trials, trials_ended)
        document = results(args, run, broker.name, gateway, log, startup=startup, stop_s=stop_s)
        document["machine"]["source_sha256"] = source
        document["machine"]["source_changed_during_run"] = source != source_digest()
        document["machine"]["load_average_at_start"] = [round(v, 2) for v in load_at_start]
        document["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
        return document
    raise AssertionError("unreachable")  # for type checkers: the stack never swallows errors


def results(
    args: argparse.Namespace,
    run: Run,
    broker: str,
    gateway: dict[str, Any],
    log: Path,
    *,
    startup: float,
    stop_s: float | None,
) -> dict[str, Any]:
    trials, poll, site = run.trials, run.poll, run.site

    def values(name: str) -> list[float]:
        return [v for v in (getattr(trial, name) for trial in trials) if v is not None]

    latencies = [float(v) for v in gateway.get("latencies", [])]
    cpu = (gateway.get("cpu_user_s") or 0.0) + (gateway.get("cpu_system_s") or 0.0)
    run_s = gateway.get("run_s") or 0.0
    return {
        "benchmark": "alarm_latency",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(broker),
        "site": {
            "file": str(args.site),
            "id": site.config.site.id,
            "scale": args.scale,
            "devices": len(site.devices),
            "smoke_detectors": site.count_by_kind()[DeviceKind.SMOKE_DETECTOR],
            "zones": len(site.zones),
            "modbus_endpoints": len(site.config.modbus.endpoints),
            "poll_interval_s": poll,
        },
        "trials": {
            "requested": args.fires,
            "done": len(trials),
            "alarm_missing": [t.device for t in trials if t.raised is None],
            "reset_refused": [t.row() for t in trials if not t.reset_ok],
            "seed": args.seed,
        },
        "figures": {
            "end_to_end": summary(values("end_to_end"), poll + MARGIN),
            "in_gateway": summary(latencies, GATEWAY_TARGET),
            "end_to_end_change_to_read": summary(values("change_to_read")),
            "end_to_end_read_to_alarm": summary(values("read_to_alarm")),
            "clear_to_returned_to_normal": summary(values("clear_to_returned")),
        },
        "gateway": {
            "startup_to_online_s": round(startup, 3),
            "stop_s": None if stop_s is None else round(stop_s, 3),
            "readings": gateway.get("readings"),
            "feed": gateway.get("feed"),
            "store_failures": gateway.get("store_failures"),
            "cpu_s": round(cpu, 2),
            "run_s": round(run_s, 1),
            "cpu_percent_of_one_core": round(100 * cpu / run_s, 1) if run_s else None,
            "max_rss_kb": gateway.get("max_rss_kb"),
            "worst_event_loop_lag_ms": ms(gateway.get("loop_lag_worst_s")),
            "worst_event_loop_lag_during_trials_ms": ms(gateway.get("loop_lag_trials_s")),
            "event_loop_lags_over_20ms": gateway.get("loop_lags_over_20ms"),
            "gc_collections": gateway.get("gc_collections"),
            "gc_tracked_objects": gateway.get("gc_tracked_objects"),
            "gc_frozen_objects": gateway.get("gc_frozen_objects"),
            "gc_pauses_over_20ms": gateway.get("gc_pauses_over_20ms"),
            "log_warnings": warnings_in(log),
        },
        "bench_process": {
            "worst_event_loop_lag_ms": ms(run.lag.worst),
            "worst_event_loop_lag_during_trials_ms": ms(
                run.lag.worst_between(trials[0].changed, time.monotonic()) if trials else None
            ),
        },
        "other_alarms_raised": run.other_alarms(),
        "samples": {"in_gateway_s": latencies, "trials": [trial.row() for trial in trials]},
    }


def print_table(document: dict[str, Any]) -> None:
    figures, site = document["figures"], document["site"]
    print()
    print(
        f"alarm latency: {site['id']} x{site['scale']}, {site['devices']} devices, "
        f"poll {site['poll_interval_s']:g} s, {document['trials']['done']} fires"
    )
    header = f"{'figure':<44}{'n':>4}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  target"
    print(header)
    print("-" * (len(header) + 14))
    rows = [
        ("end to end: simulator change -> alarm", "end_to_end"),
        ("  of which: change -> gateway reads it", "end_to_end_change_to_read"),
        ("  of which: read -> alarm at subscriber", "end_to_end_read_to_alarm"),
        ("in gateway: reading in -> alarm on broker", "in_gateway"),
        ("clear -> returned_to_normal (context)", "clear_to_returned_to_normal"),
    ]
    for label, key in rows:
        figure = figures[key]
        cells = "".join(
            f"{_cell(figure[name]):>9}" for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms")
        )
        target = ""
        if "target_p99_ms" in figure:
            verdict = "PASS" if figure["pass"] else "FAIL"
            target = f"p99 < {figure['target_p99_ms']:g} ms  {verdict}"
        print(f"{label:<44}{figure['n']:>4}{cells}  {target}".rstrip())
    gateway = document["gateway"]
    print(
        f"gateway: online {gateway['startup_to_online_s']} s after start, stopped in "
        f"{gateway['stop_s']} s; {gateway['cpu_percent_of_one_core']}% of one core, "
        f"peak RSS {(gateway['max_rss_kb'] or 0) / 1024:.0f} MB, "
        f"{len(gateway['log_warnings'])} warnings logged"
    )
    pauses = ", ".join(
        f"{pause:g} ms (gen {generation})"
        for _, generation, pause in gateway["gc_pauses_over_20ms"] or []
    )
    print(
        f"gateway garbage collections (gen 0/1/2): {gateway['gc_collections']}; "
        f"pauses over 20 ms during the trials: {pauses or 'none'}"
    )
    if document["machine"].get("source_changed_during_run"):
        print("WARNING: the gateway's source files changed during the run (see machine)")
    print(
        f"worst event-loop lag during the trials: gateway "
        f"{_lag(gateway['worst_event_loop_lag_during_trials_ms'])} ms, bench process "
        f"{_lag(document['bench_process']['worst_event_loop_lag_during_trials_ms'])} ms; "
        f"other alarms raised: {len(document['other_alarms_raised'])}"
    )


def _lag(value: float | None) -> str:
    return "< 5" if not value else f"{value:g}"  # only lateness over 5 ms is recorded


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# Entry point.


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.alarm_latency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="the site file")
    parser.add_argument("--fires", type=int, default=60, help="trials (default 60)")
    parser.add_argument(
        "--poll",
        type=parse_duration,
        default=1.0,
        help="poll interval of every Modbus device, e.g. 1s or 500ms",
    )
    parser.add_argument("--scale", type=int, default=1, help="copies of the site's devices")
    parser.add_argument("--seed", type=int, default=1, help="seeds the trials' timing")
    parser.add_argument(
        "--out",
        type=Path,
        help="JSON results (default bench/results/alarm-latency[-x<scale>].json)",
    )
    args = parser.parse_args(argv)
    if args.fires < 1 or args.scale < 1:
        parser.error("--fires and --scale must be at least 1")
    if args.out is None:
        name = "alarm-latency" + (f"-x{args.scale}" if args.scale > 1 else "")
        args.out = RESULTS / f"{name}.json"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_part(
        "alarm_latency",
        args.out,
        lambda folder: run_benchmark(args, folder),
        print_table,
        passed=_passed,
    )


def _passed(document: dict[str, Any]) -> bool:
    figures = document["figures"]
    return bool(
        figures["end_to_end"]["pass"]
        and figures["in_gateway"]["pass"]
        and not document["trials"]["alarm_missing"]
    )


if __name__ == "__main__":
    raise SystemExit(main())
