"""A slow start is no alarm storm: the reference site laid out as one Modbus TCP endpoint per
device, ten times over (1,550 Modbus endpoints and 400 cameras), served by its simulators
(`firegw simulate`, a process of its own) over real sockets, the gateway started as its own
process beside two CPU-bound processes on this 2-core machine, and a real Mosquitto.

Before (issue 19, at 10x): every endpoint connected at once with the 1 s request timeout, the
connects failed together, and the 3-poll supervision windows raised thousands of `comms_lost`
and hundreds of `blind_spot` alarms for devices that answered; the gateway's status stopped
for 35 s behind the flood, and real fires took seconds to reach the feed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.modbus_endpoints_site import rewrite
from bench.processes import gateway_command, log_tail, start, stop_process
from gateway.alarms import FeedTopics
from gateway.config import load_site
from tests.mqtt_watch import Received, Watcher
from tests.servers import MosquittoServer, free_port, port_open
from tests.sites import eventually, reference_site

COPIES = 10
NICE = ["nice", "-n", "5"]
"""The gateway and the busy jobs share the CPU as equals; the simulators, standing for the
site's own hardware (which a starved gateway does not slow), run at the usual priority, so
that their devices keep answering and a loss would be the gateway's alone."""
WATCHED = 40.0
"""Seconds from the gateway's start during which no device that answers may be lost."""
DETECTOR = "OPD-SD-001"


@contextlib.contextmanager
def cpu_bound_jobs(count: int) -> Iterator[None]:
    """`count` processes that spin on the CPU until the block ends."""
    spin = [*NICE, sys.executable, "-c", "while True: pass"]
    jobs = [subprocess.Popen(spin) for _ in range(count)]
    try:
        yield
    finally:
        for job in jobs:
            job.kill()
            job.wait()


def is_status(topics: FeedTopics, state: str) -> Callable[[Received], bool]:
    return lambda m: m.topic == topics.status and m.json["state"] == state


def is_event(topics: FeedTopics, alarm_id: str, kind: str) -> Callable[[Received], bool]:
    return lambda m: (
        m.topic == topics.events and (m.json["alarm_id"], m.json["kind"]) == (alarm_id, kind)
    )


async def apply_fault(port: int, fault: str, device: str) -> None:
    """Apply a fault through the simulators' control interface (one JSON line each way)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(json.dumps({"fault": fault, "device": device}).encode() + b"\n")
        await writer.drain()
        reply = json.loads(await asyncio.wait_for(reader.readline(), 30))
    finally:
        writer.close()
    assert reply == {"ok": True}, reply


async def test_a_start_beside_busy_jobs_raises_no_loss_and_lets_a_fire_through(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    site_file = rewrite(reference_site(tmp_path, mqtt_port=mosquitto.port), copies=COPIES)
    site = load_site(site_file)
    topics = FeedTopics.for_site(site)
    endpoints = len(site.config.modbus.endpoints)
    assert endpoints == 1550
    log, simulator_log = tmp_path / "gateway.log", tmp_path / "simulators.log"
    control = free_port()
    simulate = [sys.executable, "-m", "firegw", "simulate", str(site_file), "--seed", "7"]
    simulator = await start([*simulate, "--control-port", str(control)], simulator_log)
    try:
        last = site.config.modbus.endpoints[-1].port

        def listening(port: int) -> bool:
            assert simulator.returncode is None, log_tail(simulator_log)
            return port_open("127.0.0.1", port)

        await eventually(lambda: listening(control), within=120, what="the simulators")
        await eventually(lambda: listening(last), within=60, what="the last endpoint")
        async with Watcher(mosquitto.host, mosquitto.port, topics) as watcher:
            with cpu_bound_jobs(2):
                started = time.monotonic()
                gateway = await start([*NICE, *gateway_command(site_file, None)], log)
                try:
                    await watcher.wait_for(is_status(topics, "online"), within=60)
                    await asyncio.sleep(max(0.0, 8.0 - (time.monotonic() - started)))
                    raised_at = time.monotonic()
                    await apply_fault(control, "fire", DETECTOR)
                    fire = is_event(topics, f"fire:{DETECTOR}", "raised")
                    await watcher.wait_for(fire, within=30)
                    fire_took = time.monotonic() - raised_at
                    await asyncio.sleep(max(0.0, WATCHED - (time.monotonic() - started)))
                    statuses = [
                        m for m in watcher.messages if m.topic == topics.status and not m.retain
                    ]
                finally:
                    await stop_process(gateway)
    finally:
        await stop_process(simulator)
    raised = [alarm for alarm, kind in watcher.event_kinds() if kind == "raised"]
    lost = [a for a in raised if a.split(":")[0] in ("comms_lost", "link_lost", "blind_spot")]
    assert lost == [], log_tail(log)
    assert raised[: raised.index(f"fire:{DETECTOR}") + 1][-1] == f"fire:{DETECTOR}"
    assert fire_took < 2.5, fire_took  # a poll interval (1 s), its jitter, and the way out
    assert len(statuses) >= 2  # the heartbeat kept going (every 15 s)
