"""The trials: one smoke detector in fire each, timed from the simulator to the subscriber.

Each trial waits a random 0..poll interval (so the fire lands at any phase of the poll cycle),
sets one detector in fire, times the `raised` event at the subscriber, clears the detector,
waits for `returned_to_normal` and resets the latched alarm with a command. A zone is used
again only after the 60 s coincidence window (plus two polls), so no `confirmed_fire` is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import time
from collections import defaultdict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.feed import Arrival, FeedWatcher
from bench.looplag import LoopLag
from bench.processes import cancel, log_tail
from bench.stats import ms
from gateway.config import Site
from rules import DeviceKind
from simulators import SimulatedSite

COINCIDENCE_WINDOW = 60.0
"""rules/defaults.py: two detectors of one zone in fire within 60 s make a confirmed fire."""


def detector_plan(site: Site, fires: int) -> list[tuple[str, str]]:
    """(zone, detector) for each trial: every zone in turn, buildings interleaved."""
    by_zone: dict[str, list[str]] = defaultdict(list)
    for device in site.config.devices:
        if device.kind is DeviceKind.SMOKE_DETECTOR:
            by_zone[device.zone].append(device.id)
    by_building: dict[str, list[str]] = defaultdict(list)
    for zone in site.config.zones:
        if zone.id in by_zone:
            by_building[zone.building].append(zone.id)
    order = [
        zone
        for group in itertools.zip_longest(*by_building.values())
        for zone in group
        if zone is not None
    ]
    if not order:
        raise SystemExit(f"{site.path}: no smoke detectors to set on fire")
    plan = []
    for trial in range(fires):
        zone = order[trial % len(order)]
        detectors = by_zone[zone]
        plan.append((zone, detectors[(trial // len(order)) % len(detectors)]))
    return plan


@dataclass
class Trial:
    zone: str
    device: str
    changed: float = 0.0
    changed_wall_ns: int = 0
    raised: Arrival | None = None
    cleared: float = 0.0
    returned: Arrival | None = None
    reset_ok: bool = False
    reset_reason: str | None = None
    loop_lag: float = 0.0
    """Worst lateness of this process's event loop (which stamps arrivals) during the trial."""
    gateway_loop_lag: float | None = None
    """Worst lateness of the gateway's event loop from the change to the alarm."""

    @property
    def end_to_end(self) -> float | None:
        return None if self.raised is None else self.raised.monotonic - self.changed

    @property
    def change_to_read(self) -> float | None:
        """From the change to the gateway's reading of it (the alarm's `observed_at`)."""
        observed = self._observed_at
        return None if observed is None else (observed - self.changed_wall_ns) / 1e9

    @property
    def read_to_alarm(self) -> float | None:
        """From the gateway's reading to the `raised` event at the subscriber."""
        observed = self._observed_at
        if observed is None or self.raised is None:
            return None
        return (self.raised.wall_ns - observed) / 1e9

    @property
    def clear_to_returned(self) -> float | None:
        return None if self.returned is None else self.returned.monotonic - self.cleared

    @property
    def _observed_at(self) -> int | None:
        if self.raised is None:
            return None
        observed = self.raised.document.get("alarm", {}).get("observed_at")
        return observed if isinstance(observed, int) else None

    def row(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "device": self.device,
            "end_to_end_ms": ms(self.end_to_end),
            "change_to_read_ms": ms(self.change_to_read),
            "read_to_alarm_ms": ms(self.read_to_alarm),
            "clear_to_returned_ms": ms(self.clear_to_returned),
            "reset_ok": self.reset_ok,
            "reset_reason": self.reset_reason,
            "bench_loop_lag_ms": ms(self.loop_lag),
            "gateway_loop_lag_ms": ms(self.gateway_loop_lag),
        }


@dataclass
class Run:
    """One benchmark run: the site, its trials, and what was seen on the feed."""

    site: Site
    poll: float
    rng: random.Random
    watcher: FeedWatcher
    simulated: SimulatedSite
    lag: LoopLag
    trials: list[Trial] = field(default_factory=list)

    async def fire(self, zone: str, device: str, last_fire: dict[str, float]) -> Trial:
        """One trial: fire, time the alarm, clear, wait for the return, reset."""
        spacing = COINCIDENCE_WINDOW + 2 * self.poll + 1.0
        wait = last_fire.get(zone, -math.inf) + spacing - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await asyncio.sleep(self.rng.uniform(0.0, self.poll))  # any phase of the poll cycle
        alarm_id = f"fire:{device}"
        trial = Trial(zone, device)
        raised = self.watcher.expect(alarm_id, "raised")
        returned = self.watcher.expect(alarm_id, "returned_to_normal")
        timeout = max(10.0, 5 * self.poll)
        try:
            await self.simulated.apply("fire", device)
            trial.changed, trial.changed_wall_ns = time.monotonic(), time.time_ns()
            last_fire[zone] = trial.changed
            with contextlib.suppress(TimeoutError):
                trial.raised = await asyncio.wait_for(raised, timeout)
            trial.loop_lag = self.lag.worst_between(trial.changed, time.monotonic())
            await self.simulated.apply("clear", device)
            trial.cleared = time.monotonic()
            with contextlib.suppress(TimeoutError):
                trial.returned = await asyncio.wait_for(returned, timeout)
            await self._reset(trial, alarm_id)
        finally:
            self.watcher.forget(alarm_id, "raised")
            self.watcher.forget(alarm_id, "returned_to_normal")
        self.trials.append(trial)
        return trial

    async def _reset(self, trial: Trial, alarm_id: str) -> None:
        for _ in range(3):
            reply = await self.watcher.command("reset", alarm_id)
            trial.reset_ok, trial.reset_reason = bool(reply.get("ok")), reply.get("reason")
            if trial.reset_ok:
                return
            await asyncio.sleep(self.poll)

    def other_alarms(self) -> list[dict[str, Any]]:
        """Alarms raised on the feed that no trial caused (they would disturb the figures)."""
        ours = {f"fire:{trial.device}" for trial in self.trials}
        return [
            {"alarm_id": arrival.document.get("alarm_id"), "cause": arrival.document.get("cause")}
            for arrival in self.watcher.events
            if arrival.document.get("kind") == "raised"
            and arrival.document.get("alarm_id") not in ours
        ]


def line_up(gateway: dict[str, Any], trials: Sequence[Trial], end: float) -> dict[str, Any]:
    """The gateway's stalls and collections during the trials (start-up is not what they
    measure), at seconds since the first trial; and each trial's worst stall."""
    stalls = gateway.pop("loop_lags", [])
    pauses = gateway.pop("gc_pauses", [])
    if not trials:
        return gateway
    start = trials[0].changed
    during = [(at, late) for at, late in stalls if start <= at <= end]
    gateway["loop_lag_trials_s"] = max((late for _, late in during), default=0.0)
    gateway["loop_lags_over_20ms"] = [
        [round(at - start, 3), ms(late)] for at, late in during if late > 0.020
    ][:500]
    gateway["gc_pauses_over_20ms"] = [
        [round(at - start, 3), generation, ms(pause)]
        for at, generation, pause in pauses
        if start <= at <= end and pause > 0.020
    ][:500]
    for trial in trials:
        if trial.raised is not None:  # a stall is stamped when it ends
            trial.gateway_loop_lag = max(
                (
                    late
                    for at, late in during
                    if trial.changed <= at <= trial.raised.monotonic + late
                ),
                default=0.0,
            )
    return gateway


async def run_trials(
    run: Run, plan: Sequence[tuple[str, str]], process: asyncio.subprocess.Process, log: Path
) -> None:
    """Every trial in turn; stops with the gateway's log tail if the gateway dies."""
    last_fire: dict[str, float] = {}
    began = time.monotonic()
    exited = asyncio.ensure_future(process.wait())
    try:
        for number, (zone, device) in enumerate(plan, 1):
            trial = await _unless_exited(run.fire(zone, device, last_fire), exited, log)
            _progress(number, len(plan), began, trial)
    finally:
        await cancel(exited)


async def _unless_exited(
    work: Coroutine[Any, Any, Trial], exited: asyncio.Future[int], log: Path
) -> Trial:
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait({task, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            await cancel(task)
    if not task.cancelled():
        return task.result()
    raise RuntimeError(f"the gateway exited (code {exited.result()}); {log_tail(log)}")


def _progress(number: int, trials: int, began: float, trial: Trial) -> None:
    if number % 10 == 0 or trial.raised is None or not trial.reset_ok:
        note = "" if trial.raised else f" ({trial.device}: no alarm!)"
        note += "" if trial.reset_ok else f" (reset refused: {trial.reset_reason})"
        print(f"  {number}/{trials} trials, {time.monotonic() - began:.0f} s{note}", flush=True)
