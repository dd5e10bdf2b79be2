"""`firegw run`, plus a report on the way out: the gateway's own alarm latencies and footprint.

    python -m bench.gateway_probe SITE_FILE --report OUT.json

Runs `gateway.runtime.Gateway` exactly as `firegw run` does (same logging setup, same shutdown
on SIGTERM or SIGINT). When the gateway has stopped, it writes a JSON object to OUT.json:

- `latencies`: `AlarmService.latencies`, seconds from a reading's arrival at the alarm service
  to its `raised` event acknowledged by the broker (QoS 1), one per raised alarm;
- `readings`: readings published on the hub; `feed`: the alarm feed's counters;
- `cpu_user_s`, `cpu_system_s`, `max_rss_kb`: this process, from `getrusage`;
- `run_s`: seconds from start to the end of shutdown, `stop_s`: from the signal to the end;
- `loop_lag_worst_s` and `loop_lags`: how late the gateway's event loop woke a 10 ms timer,
  the worst and every lateness over 5 ms as `[monotonic time, seconds]` (the monotonic clock is
  the system's, so the benchmark can line these up with its trials);
- `gc_pauses`: every garbage collection over 5 ms as `[monotonic time, generation, seconds]`,
  and `gc_collections`: how many of each generation ran (a full collection stops the loop).

The benchmark (bench/alarm_latency.py) starts this in its own process, so the gateway shares
nothing with the simulators but the sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import os
import resource
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.looplag import LoopLag
from gateway.config import load_site
from gateway.runtime.gateway import Gateway


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway_probe",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", type=Path, help="the site file")
    parser.add_argument("--report", type=Path, required=True, help="where to write the JSON")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # as `firegw run` does
    gateway = Gateway(load_site(args.config))
    asyncio.run(_run(gateway, args.report))
    return 0


class GcPauses:
    """Times every garbage collection through `gc.callbacks`."""

    KEPT = 10_000

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.pauses: list[tuple[float, int, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.monotonic()
            return
        now = time.monotonic()
        generation = info["generation"]
        self.collections[generation] += 1
        pause = now - self._started
        if pause > 0.005 and len(self.pauses) < self.KEPT:
            self.pauses.append((round(now, 6), generation, round(pause, 6)))


async def _run(gateway: Gateway, report: Path) -> None:
    started = time.monotonic()
    stopping: list[float] = []
    lag = LoopLag(period=0.010, kept=20_000)
    watching = asyncio.ensure_future(lag.run())
    collections = GcPauses()
    gc.callbacks.append(collections)
    task = asyncio.ensure_future(gateway.run())
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if not stopping:
            stopping.append(time.monotonic())
        task.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        ended = time.monotonic()
        watching.cancel()
        document = _report(gateway, started, stopping[0] if stopping else None, ended)
        gc.callbacks.remove(collections)
        lags = [(round(at, 6), round(late, 6)) for at, late in lag.late]
        _write(
            report,
            {
                **document,
                "loop_lag_worst_s": lag.worst,
                "loop_lags": lags,
                "gc_collections": collections.collections,
                "gc_tracked_objects": len(gc.get_objects()),
                "gc_frozen_objects": gc.get_freeze_count(),
                "gc_pauses": collections.pauses,
            },
        )


def _report(
    gateway: Gateway, started: float, stopping: float | None, ended: float
) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    service = gateway.alarms
    feed = service.feed if service is not None else None
    return {
        "latencies": list(service.latencies) if service is not None else [],
        "readings": gateway.runtime.hub.published,
        "feed": dataclasses.asdict(feed.stats) if feed is not None else None,
        "store_failures": service.store_failures if service is not None else None,
        "cpu_user_s": usage.ru_utime,
        "cpu_system_s": usage.ru_stime,
        "max_rss_kb": usage.ru_maxrss,
        "run_s": ended - started,
        "stop_s": None if stopping is None else ended - stopping,
    }


def _write(path: Path, document: dict[str, Any]) -> None:
    """Whole or not at all: the benchmark must never read half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(document))
    partial.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
