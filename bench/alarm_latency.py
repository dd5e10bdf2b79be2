"""Alarm latency at reference-site scale (DESIGN section 8), on real processes and sockets.

    .venv/bin/python -m bench.alarm_latency [--site config/hospital.yaml] [--fires 60]
        [--poll 1s] [--scale 1] [--seed 1] [--out bench/results/alarm-latency.json]

A private Mosquitto (`EmbeddedBroker`), the site's simulators in this process, and the gateway
in a process of its own (`bench.gateway_probe`, which is `firegw run` plus a report on exit),
all on free loopback ports. A separate MQTT client watches `<prefix>/<site>/events`. Each trial
sets one smoke detector in fire and times it:

- end to end: from the simulator's state change (right after `SimulatedSite.apply("fire")`
  returns: the registers are updated at once) to the `raised` event of `fire:<device>` at the
  subscriber. The gateway only sees the change at the device's next poll, so this is roughly
  uniform over 0..poll interval plus the gateway's own part. Target: p99 < poll + 100 ms.
- in the gateway: `AlarmService.latencies`, from a reading's arrival at the alarm service to
  its `raised` event acknowledged by the broker. Target: p99 < 100 ms.

Then the detector is cleared, and once the gateway has seen that (`returned_to_normal`), the
latched fire is reset by a `reset` command, as the security office would. Detectors are taken
zone by zone, and a zone is used again only after the 60 s coincidence window, so no
`confirmed_fire` interferes. `--scale 10` runs ten copies of every zone, endpoint and device.

Everything is torn down on exit, also on Ctrl-C, SIGTERM or an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import hashlib
import itertools
import json
import math
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import aiomqtt
import yaml

from gateway.alarms import FeedTopics
from gateway.broker import EmbeddedBroker
from gateway.config import DeviceKind, Site, load_site
from rules import parse_duration
from simulators import SimulatedSite

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SITE = REPO / "config" / "hospital.yaml"
RESULTS = REPO / "bench" / "results"
COINCIDENCE_WINDOW = 60.0
"""rules/defaults.py: two detectors of one zone in fire within 60 s make a confirmed fire."""
GATEWAY_TARGET = 0.100
"""DESIGN section 8: p99 of reading in -> alarm on the broker, and the margin end to end."""
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
COMMAND_TIMEOUT = 10.0
BY = "bench"


# The site: the reference site on private ports, optionally ten times over.


def write_site(source: Path, folder: Path, *, mqtt_port: int, poll: float, scale: int) -> Path:
    """`source` with free loopback ports, `mqtt_port`, outbox in `folder`, no InfluxDB.

    With `scale` > 1 every zone, Modbus endpoint and device is there `scale` times (copies
    are suffixed `-x<k>` / `-X<k>`), in the same buildings.
    """
    document = yaml.safe_load(source.read_text())
    base = source.resolve().parent
    document["profiles"] = [str((base / path).resolve()) for path in document["profiles"]]
    document["outbox"] = {"path": str(folder / "outbox.sqlite")}
    document.pop("influxdb", None)
    mqtt = {key: value for key, value in (document.get("mqtt") or {}).items()
            if key not in ("username", "password", "client_id")}
    document["mqtt"] = {**mqtt, "host": "127.0.0.1", "port": mqtt_port}
    document["defaults"] = {**(document.get("defaults") or {}), "poll_interval": poll}
    copies = range(scale)
    document["zones"] = [
        {**zone, "id": _copy(zone["id"], k), "name": zone["name"] + (f" ({k})" if k else "")}
        for k in copies for zone in document["zones"]]
    modbus = document["modbus"]
    endpoints = [{**endpoint, "id": _copy(endpoint["id"], k), "host": "127.0.0.1"}
                 for k in copies for endpoint in modbus["endpoints"]]
    for endpoint, port in zip(endpoints, free_ports(len(endpoints)), strict=True):
        endpoint["port"] = port
    modbus["endpoints"] = endpoints
    document["devices"] = [_copy_device(device, k) for k in copies
                           for device in document["devices"]]
    site_file = folder / "site.yaml"
    site_file.write_text(yaml.safe_dump(document, sort_keys=False, width=200))
    return site_file


def free_ports(count: int) -> list[int]:
    """`count` different loopback ports nobody listens on now (all probes held open at once,
    so the kernel cannot hand out one port twice)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def _copy(name: str, k: int, mark: str = "x") -> str:
    return name if k == 0 else f"{name}-{mark}{k}"


def _copy_device(device: dict[str, Any], k: int) -> dict[str, Any]:
    name = _copy(device["id"], k, "X")
    source = dict(device["source"])
    if "endpoint" in source:
        source["endpoint"] = _copy(source["endpoint"], k)
    elif k and device["id"] in source.get("topic", ""):
        source["topic"] = source["topic"].replace(device["id"], name)
    elif k:
        source["topic"] = f"{source['topic']}/x{k}"
    return {**device, "id": name, "zone": _copy(device["zone"], k), "source": source}


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
    order = [zone for group in itertools.zip_longest(*by_building.values()) for zone in group
             if zone is not None]
    if not order:
        raise SystemExit(f"{site.path}: no smoke detectors to set on fire")
    plan = []
    for trial in range(fires):
        zone = order[trial % len(order)]
        detectors = by_zone[zone]
        plan.append((zone, detectors[(trial // len(order)) % len(detectors)]))
    return plan


# The subscriber: a security office's view of the feed.


@dataclass(frozen=True)
class Arrival:
    """A message as it reached the subscriber: monotonic and wall-clock time, and the JSON."""

    monotonic: float
    wall_ns: int
    document: dict[str, Any]


class FeedWatcher:
    """An MQTT client of its own on the feed's events, replies and status; sends commands."""

    def __init__(self, host: str, port: int, topics: FeedTopics) -> None:
        self.host, self.port, self.topics = host, port, topics
        self.online = asyncio.Event()
        self.events: list[Arrival] = []
        self.lost: aiomqtt.MqttError | None = None
        self._waiting: dict[tuple[str, str], asyncio.Future[Arrival]] = {}
        self._replies: dict[str, asyncio.Future[Arrival]] = {}
        self._requests = itertools.count(1)
        self._client: aiomqtt.Client | None = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            self._client = await stack.enter_async_context(aiomqtt.Client(
                self.host, self.port, identifier=f"bench-{os.getpid()}",
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]))
            topics = self.topics
            await self._client.subscribe([(topics.events, 1), (topics.replies, 1),
                                          (topics.status, 1)])
            group = await stack.enter_async_context(asyncio.TaskGroup())
            receiver = group.create_task(self._receive(self._client), name="bench watcher")
            stack.callback(receiver.cancel)  # runs first on exit, so the group can end
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    def expect(self, alarm_id: str, kind: str) -> asyncio.Future[Arrival]:
        """A future for the next event `kind` of `alarm_id`; ask before causing it."""
        if self.lost is not None:
            raise RuntimeError(f"the benchmark's MQTT connection was lost: {self.lost}")
        future: asyncio.Future[Arrival] = asyncio.get_running_loop().create_future()
        self._waiting[(alarm_id, kind)] = future
        return future

    def forget(self, alarm_id: str, kind: str) -> None:
        future = self._waiting.pop((alarm_id, kind), None)
        if future is not None and future.done() and not future.cancelled():
            future.exception()  # seen: asyncio need not report it as never retrieved

    async def command(self, action: str, alarm: str) -> dict[str, Any]:
        """Send a command as the security office would and return the gateway's reply."""
        assert self._client is not None
        request_id = f"bench-{next(self._requests)}"
        future: asyncio.Future[Arrival] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        command = {"action": action, "alarm": alarm, "by": BY, "request_id": request_id}
        try:
            await self._client.publish(self.topics.commands, json.dumps(command), qos=1)
            async with asyncio.timeout(COMMAND_TIMEOUT):
                return (await future).document
        except TimeoutError:
            raise RuntimeError(f"no reply to {action} {alarm} within {COMMAND_TIMEOUT:g} s; "
                               "is the gateway serving commands?") from None
        finally:
            self._replies.pop(request_id, None)

    async def _receive(self, client: aiomqtt.Client) -> None:
        try:
            await self._receive_until_lost(client)
        except aiomqtt.MqttError as error:  # the broker went away (Ctrl-C reaches it too)
            self.lost = error
            lost = RuntimeError(f"the benchmark's MQTT connection was lost: {error}")
            for future in [*self._waiting.values(), *self._replies.values()]:
                if not future.done():
                    future.set_exception(lost)

    async def _receive_until_lost(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            arrival_mono, arrival_wall = time.monotonic(), time.time_ns()
            payload = message.payload if isinstance(message.payload, bytes) else b""
            try:
                document = json.loads(payload) if payload else {}
            except ValueError:
                continue
            arrival = Arrival(arrival_mono, arrival_wall, document)
            topic = message.topic.value
            if topic == self.topics.events:
                self.events.append(arrival)
                key = (document.get("alarm_id", ""), document.get("kind", ""))
                _resolve(self._waiting.pop(key, None), arrival)
            elif topic == self.topics.replies:
                _resolve(self._replies.pop(str(document.get("request_id")), None), arrival)
            elif topic == self.topics.status and document.get("state") == "online":
                self.online.set()


def _resolve(future: asyncio.Future[Arrival] | None, arrival: Arrival) -> None:
    if future is not None and not future.done():
        future.set_result(arrival)


class LoopLag:
    """How late this process's event loop wakes up: it stamps the subscriber's arrivals."""

    PERIOD = 0.005

    def __init__(self) -> None:
        self.late: deque[tuple[float, float]] = deque(maxlen=100_000)
        """(monotonic time, seconds late) of every wake-up more than 5 ms late."""
        self.worst = 0.0

    async def run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.PERIOD)
            now = time.monotonic()
            lag = now - before - self.PERIOD
            self.worst = max(self.worst, lag)
            if lag > 0.005:
                self.late.append((now, lag))

    def worst_between(self, start: float, end: float) -> float:
        return max((lag for at, lag in self.late if start <= at <= end + lag), default=0.0)


# The gateway process.


@contextlib.asynccontextmanager
async def gateway_process(site_file: Path, report: Path, log: Path,
                          options: Sequence[str] = ()) -> AsyncIterator[asyncio.subprocess.Process]:
    """`bench.gateway_probe` in its own session (Ctrl-C is ours to pass on), stopped on exit."""
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.gateway_probe", str(site_file), "--report", str(report),
            *options,
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)
    STARTED.append(process)
    try:
        yield process
    finally:
        await stop_process(process)


STARTED: list[asyncio.subprocess.Process] = []
"""Child processes, killed after the loop has ended if they somehow still run."""


async def stop_process(process: asyncio.subprocess.Process) -> float | None:
    """SIGTERM, then SIGKILL after `STOP_TIMEOUT`; seconds it took, None if it was gone."""
    if process.returncode is not None:
        return None
    started = time.monotonic()
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
    return time.monotonic() - started


def kill_leftovers() -> None:
    for process in STARTED:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(process.pid, signal.SIGKILL)
                os.waitpid(process.pid, 0)


async def wait_until_running(process: asyncio.subprocess.Process, watcher: FeedWatcher,
                             log: Path) -> None:
    """Until the gateway's feed says `online`; fails with the log's tail if the process ends."""
    online = asyncio.ensure_future(watcher.online.wait())
    exited = asyncio.ensure_future(process.wait())
    try:
        done, _ = await asyncio.wait({online, exited}, timeout=STARTUP_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        online.cancel()
        exited.cancel()
    if online in done and online.exception() is None:
        return
    tail = "\n".join(_log_lines(log)[-20:])
    what = ("exited" if process.returncode is not None
            else f"was not online after {STARTUP_TIMEOUT:g} s")
    raise RuntimeError(f"the gateway {what}; its log ends with:\n{tail}")


def _log_lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines() if log.exists() else []


def _read_report(report: Path) -> dict[str, Any]:
    """What the probe wrote on its way out; empty if it was killed before it could."""
    return json.loads(report.read_text()) if report.exists() else {}


# The trials.


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
        return {"zone": self.zone, "device": self.device,
                "end_to_end_ms": _ms(self.end_to_end),
                "change_to_read_ms": _ms(self.change_to_read),
                "read_to_alarm_ms": _ms(self.read_to_alarm),
                "clear_to_returned_ms": _ms(self.clear_to_returned),
                "reset_ok": self.reset_ok, "reset_reason": self.reset_reason,
                "bench_loop_lag_ms": _ms(self.loop_lag),
                "gateway_loop_lag_ms": _ms(self.gateway_loop_lag)}


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
        return [{"alarm_id": arrival.document.get("alarm_id"),
                 "cause": arrival.document.get("cause")}
                for arrival in self.watcher.events
                if arrival.document.get("kind") == "raised"
                and arrival.document.get("alarm_id") not in ours]


async def run_benchmark(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Start everything, run the trials, stop everything; the results as a JSON object."""
    report, log = folder / "gateway-report.json", folder / "gateway.log"
    async with AsyncExitStack() as stack:
        broker = await stack.enter_async_context(EmbeddedBroker())
        site_file, site, simulated = await start_simulators(stack, args, folder, broker.port)
        topics = FeedTopics.for_site(site)
        watcher = await stack.enter_async_context(FeedWatcher(broker.host, broker.port, topics))
        lag = LoopLag()
        lag_task = asyncio.create_task(lag.run(), name="loop lag")
        stack.push_async_callback(_cancel, lag_task)
        print(f"{site.config.site.id}: {len(site.devices)} devices, {len(site.zones)} zones, "
              f"{len(site.config.modbus.endpoints)} Modbus endpoints, poll {args.poll:g} s; "
              f"broker {broker.name} on port {broker.port}", flush=True)
        source = source_digest()  # the code the gateway is about to import
        load_at_start = os.getloadavg()
        started = time.monotonic()
        process = await stack.enter_async_context(gateway_process(site_file, report, log, []))
        await wait_until_running(process, watcher, log)
        startup = time.monotonic() - started
        await asyncio.sleep(max(3.0, 3 * args.poll))  # every device polled a few times
        run = Run(site, args.poll, random.Random(args.seed), watcher, simulated, lag)
        await run_trials(run, detector_plan(site, args.fires), process, log)
        trials_ended = time.monotonic()
        stop_s = await stop_process(process)
        gateway = line_up(_read_report(report), run.trials, trials_ended)
        document = results(args, run, broker.name, gateway, log, startup=startup, stop_s=stop_s)
        document["machine"]["source_sha256"] = source
        document["machine"]["source_changed_during_run"] = source != source_digest()
        document["machine"]["load_average_at_start"] = [round(v, 2) for v in load_at_start]
        document["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
        return document
    raise AssertionError("unreachable")  # for type checkers: the stack never swallows errors


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
    gateway["loop_lags_over_20ms"] = [[round(at - start, 3), _ms(late)]
                                      for at, late in during if late > 0.020][:500]
    gateway["gc_pauses_over_20ms"] = [[round(at - start, 3), generation, _ms(pause)]
                                      for at, generation, pause in pauses
                                      if start <= at <= end and pause > 0.020][:500]
    for trial in trials:
        if trial.raised is not None:  # a stall is stamped when it ends
            trial.gateway_loop_lag = max(
                (late for at, late in during
                 if trial.changed <= at <= trial.raised.monotonic + late), default=0.0)
    return gateway


async def start_simulators(stack: AsyncExitStack, args: argparse.Namespace, folder: Path,
                           mqtt_port: int) -> tuple[Path, Site, SimulatedSite]:
    """Write the site and start its simulators; new ports if another process took one."""
    for attempt in range(1, 4):
        site_file = write_site(args.site, folder, mqtt_port=mqtt_port, poll=args.poll,
                               scale=args.scale)
        site = load_site(site_file)
        try:
            simulated = await stack.enter_async_context(SimulatedSite(site, control_port=0))
        except OSError as error:
            if attempt == 3:
                raise RuntimeError(f"the simulators cannot listen: {error}") from error
            print(f"  {error}; trying other ports", flush=True)
        else:
            return site_file, site, simulated
    raise AssertionError("unreachable")


async def run_trials(run: Run, plan: Sequence[tuple[str, str]],
                     process: asyncio.subprocess.Process, log: Path) -> None:
    """Every trial in turn; stops with the gateway's log tail if the gateway dies."""
    last_fire: dict[str, float] = {}
    began = time.monotonic()
    exited = asyncio.ensure_future(process.wait())
    try:
        for number, (zone, device) in enumerate(plan, 1):
            trial = await _unless_exited(run.fire(zone, device, last_fire), exited, log)
            _progress(number, len(plan), began, trial)
    finally:
        await _cancel(exited)


async def _unless_exited(work: Coroutine[Any, Any, Trial], exited: asyncio.Future[int],
                         log: Path) -> Trial:
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait({task, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            await _cancel(task)
    if not task.cancelled():
        return task.result()
    tail = "\n".join(_log_lines(log)[-20:])
    raise RuntimeError(f"the gateway exited (code {exited.result()}); its log ends with:\n"
                       f"{tail}")


def _progress(number: int, trials: int, began: float, trial: Trial) -> None:
    if number % 10 == 0 or trial.raised is None or not trial.reset_ok:
        note = "" if trial.raised else f" ({trial.device}: no alarm!)"
        note += "" if trial.reset_ok else f" (reset refused: {trial.reset_reason})"
        print(f"  {number}/{trials} trials, {time.monotonic() - began:.0f} s{note}", flush=True)


# Figures.


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: Sequence[float], target: float | None = None) -> dict[str, Any]:
    figures: dict[str, Any] = {"n": len(values)}
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        figures[f"{name}_ms"] = _ms(percentile(values, q))
    figures["mean_ms"] = _ms(sum(values) / len(values)) if values else None
    figures["min_ms"] = _ms(min(values)) if values else None
    if target is not None:
        figures["target_p99_ms"] = _ms(target)
        p99 = percentile(values, 99)
        figures["pass"] = p99 is not None and p99 < target
    return figures


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def results(args: argparse.Namespace, run: Run, broker: str, gateway: dict[str, Any],
            log: Path, *, startup: float, stop_s: float | None) -> dict[str, Any]:
    trials, poll, site = run.trials, run.poll, run.site
    def values(name: str) -> list[float]:
        return [v for v in (getattr(trial, name) for trial in trials) if v is not None]
    latencies = [float(v) for v in gateway.get("latencies", [])]
    cpu = (gateway.get("cpu_user_s") or 0.0) + (gateway.get("cpu_system_s") or 0.0)
    run_s = gateway.get("run_s") or 0.0
    lines = _log_lines(log)
    return {
        "benchmark": "alarm_latency",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(broker),
        "site": {"file": str(args.site), "id": site.config.site.id, "scale": args.scale,
                 "devices": len(site.devices),
                 "smoke_detectors": site.count_by_kind()[DeviceKind.SMOKE_DETECTOR],
                 "zones": len(site.zones), "modbus_endpoints": len(site.config.modbus.endpoints),
                 "poll_interval_s": poll},
        "trials": {"requested": args.fires, "done": len(trials),
                   "alarm_missing": [t.device for t in trials if t.raised is None],
                   "reset_refused": [t.row() for t in trials if not t.reset_ok],
                   "seed": args.seed},
        "figures": {
            "end_to_end": summary(values("end_to_end"), poll + GATEWAY_TARGET),
            "in_gateway": summary(latencies, GATEWAY_TARGET),
            "end_to_end_change_to_read": summary(values("change_to_read")),
            "end_to_end_read_to_alarm": summary(values("read_to_alarm")),
            "clear_to_returned_to_normal": summary(values("clear_to_returned")),
        },
        "gateway": {"startup_to_online_s": round(startup, 3),
                    "stop_s": None if stop_s is None else round(stop_s, 3),
                    "readings": gateway.get("readings"), "feed": gateway.get("feed"),
                    "store_failures": gateway.get("store_failures"),
                    "cpu_s": round(cpu, 2), "run_s": round(run_s, 1),
                    "cpu_percent_of_one_core": round(100 * cpu / run_s, 1) if run_s else None,
                    "max_rss_kb": gateway.get("max_rss_kb"),
                    "worst_event_loop_lag_ms": _ms(gateway.get("loop_lag_worst_s")),
                    "worst_event_loop_lag_during_trials_ms": _ms(
                        gateway.get("loop_lag_trials_s")),
                    "event_loop_lags_over_20ms": gateway.get("loop_lags_over_20ms"),
                    "gc_collections": gateway.get("gc_collections"),
                    "gc_tracked_objects": gateway.get("gc_tracked_objects"),
                    "gc_frozen_objects": gateway.get("gc_frozen_objects"),
                    "gc_pauses_over_20ms": gateway.get("gc_pauses_over_20ms"),
                    "log_warnings": [line for line in lines
                                     if " WARNING " in line or " ERROR " in line][:20]},
        "bench_process": {"worst_event_loop_lag_ms": _ms(run.lag.worst),
                          "worst_event_loop_lag_during_trials_ms": _ms(
                              run.lag.worst_between(trials[0].changed, time.monotonic())
                              if trials else None)},
        "other_alarms_raised": run.other_alarms(),
        "samples": {"in_gateway_s": latencies, "trials": [trial.row() for trial in trials]},
    }


def machine(broker: str) -> dict[str, Any]:
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if broker == "mosquitto" and mosquitto:  # `mosquitto -h` prints its version first
        broker = f"{broker} ({_output(mosquitto, '-h').splitlines()[0]})"
    return {"uname": _output("uname", "-a"), "nproc": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)), "python": sys.version,
            "broker": broker,
            "git_commit": _output("git", "-C", str(REPO), "rev-parse", "HEAD"),
            "git_changes": _output("git", "-C", str(REPO), "status", "--porcelain").splitlines()}


def source_digest() -> str:
    """One hash of every Python file the gateway and simulators run: same hash, same code."""
    digest = hashlib.sha256()
    for package in ("drivers", "gateway", "rules", "simulators", "bench"):
        for path in sorted((REPO / package).rglob("*.py")):
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _output(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"unavailable: {error}"
    return (done.stdout or done.stderr).strip()


def print_table(document: dict[str, Any]) -> None:
    figures, site = document["figures"], document["site"]
    print()
    print(f"alarm latency: {site['id']} x{site['scale']}, {site['devices']} devices, "
          f"poll {site['poll_interval_s']:g} s, {document['trials']['done']} fires")
    header = f"{'figure':<44}{'n':>4}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  target"
    print(header)
    print("-" * (len(header) + 14))
    rows = [("end to end: simulator change -> alarm", "end_to_end"),
            ("  of which: change -> gateway reads it", "end_to_end_change_to_read"),
            ("  of which: read -> alarm at subscriber", "end_to_end_read_to_alarm"),
            ("in gateway: reading in -> alarm on broker", "in_gateway"),
            ("clear -> returned_to_normal (context)", "clear_to_returned_to_normal")]
    for label, key in rows:
        figure = figures[key]
        cells = "".join(f"{_cell(figure[name]):>9}" for name in ("p50_ms", "p95_ms", "p99_ms",
                                                                 "max_ms"))
        target = ""
        if "target_p99_ms" in figure:
            verdict = "PASS" if figure["pass"] else "FAIL"
            target = f"p99 < {figure['target_p99_ms']:g} ms  {verdict}"
        print(f"{label:<44}{figure['n']:>4}{cells}  {target}".rstrip())
    gateway = document["gateway"]
    print(f"gateway: online {gateway['startup_to_online_s']} s after start, stopped in "
          f"{gateway['stop_s']} s; {gateway['cpu_percent_of_one_core']}% of one core, "
          f"peak RSS {(gateway['max_rss_kb'] or 0) / 1024:.0f} MB, "
          f"{len(gateway['log_warnings'])} warnings logged")
    pauses = ", ".join(f"{pause:g} ms (gen {generation})"
                       for _, generation, pause in gateway["gc_pauses_over_20ms"] or [])
    print(f"gateway garbage collections (gen 0/1/2): {gateway['gc_collections']}; "
          f"pauses over 20 ms during the trials: {pauses or 'none'}")
    if document["machine"].get("source_changed_during_run"):
        print("WARNING: the gateway's source files changed during the run (see machine)")
    print(f"worst event-loop lag during the trials: gateway "
          f"{_lag(gateway['worst_event_loop_lag_during_trials_ms'])} ms, bench process "
          f"{_lag(document['bench_process']['worst_event_loop_lag_during_trials_ms'])} ms; "
          f"other alarms raised: {len(document['other_alarms_raised'])}")


def _lag(value: float | None) -> str:
    return "< 5" if not value else f"{value:g}"  # only lateness over 5 ms is recorded


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# Entry point.


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.alarm_latency",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="the site file")
    parser.add_argument("--fires", type=int, default=60, help="trials (default 60)")
    parser.add_argument("--poll", type=parse_duration, default=1.0,
                        help="poll interval of every Modbus device, e.g. 1s or 500ms")
    parser.add_argument("--scale", type=int, default=1, help="copies of the site's devices")
    parser.add_argument("--seed", type=int, default=1, help="seeds the trials' timing")
    parser.add_argument("--out", type=Path, help="JSON results (default bench/results/"
                        "alarm-latency[-x<scale>].json)")
    args = parser.parse_args(argv)
    if args.fires < 1 or args.scale < 1:
        parser.error("--fires and --scale must be at least 1")
    if args.out is None:
        name = "alarm-latency" + (f"-x{args.scale}" if args.scale > 1 else "")
        args.out = RESULTS / f"{name}.json"
    return args


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


INTERRUPTED: list[int] = []
"""Signals that stopped the run (Ctrl-C, SIGTERM)."""


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()

    def interrupt(signum: int) -> None:
        INTERRUPTED.append(signum)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt, signum)
    loop.set_exception_handler(_quiet_mqtt_leftovers)
    with tempfile.TemporaryDirectory(prefix="firegw-bench-") as folder:
        return await run_benchmark(args, Path(folder))


def _quiet_mqtt_leftovers(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """aiomqtt leaves a future unretrieved when the broker dies under it (Ctrl-C reaches the
    broker too); that is no news. Everything else is reported as usual."""
    if isinstance(context.get("exception"), aiomqtt.MqttError):
        return
    loop.default_exception_handler(context)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        document = asyncio.run(_main(args))
    except (Exception, KeyboardInterrupt, asyncio.CancelledError) as error:
        if INTERRUPTED or isinstance(error, KeyboardInterrupt | asyncio.CancelledError):
            print("interrupted; everything stopped", file=sys.stderr)
            return 130
        failures = _leaves(error)  # task groups (the simulators' too) wrap what went wrong
        if all(isinstance(failure, RuntimeError) for failure in failures):
            for failure in failures:  # ours: they say what went wrong, no traceback needed
                print(f"alarm_latency: {failure}", file=sys.stderr)
            return 1
        raise
    finally:
        kill_leftovers()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print_table(document)
    print(f"results: {args.out}")
    ok = (document["figures"]["end_to_end"]["pass"] and document["figures"]["in_gateway"]["pass"]
          and not document["trials"]["alarm_missing"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
