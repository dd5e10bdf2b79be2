"""Alarms from the simulated clinic to a person's MQTT client and back, over real sockets.

The simulators play the devices, the gateway runs as its own process (so it can be killed),
and a separate MQTT client watches the feed and sends commands, as a security office would.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from gateway.alarms import FeedTopics
from gateway.config import Site, load_site
from gateway.runtime.gateway import Gateway
from simulators import SimulatedSite
from tests.mqtt_watch import Watcher, retained
from tests.operators import signed
from tests.servers import MosquittoServer
from tests.sites import clinic_site

FIREGW = [sys.executable, "-m", "firegw"]


async def start_gateway(site_file: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *FIREGW,
        "run",
        str(site_file),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


@contextlib.asynccontextmanager
async def gateway_process(site_file: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await start_gateway(site_file)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 10)


async def command(
    mosquitto: MosquittoServer, site: Site, watcher: Watcher, **fields: Any
) -> dict[str, Any]:
    """Publish a command signed as its operator's client does, and wait for its reply."""
    request_id = f"test-{time.monotonic_ns()}"
    payload = signed(site.path, {**fields, "request_id": request_id})
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        await client.publish(FeedTopics.for_site(site).commands, payload, qos=1)
    return await watcher.reply(request_id)


async def alarm_state(mosquitto: MosquittoServer, topics: FeedTopics) -> dict[str, Any]:
    """The retained state of every alarm, by alarm id."""
    found = await retained(mosquitto, topics)
    return {
        topic.rsplit("/", 1)[1]: value
        for topic, value in found.items()
        if topics.alarm_id_of(topic)
    }


async def test_fire_then_confirmed_fire_acknowledged_and_kept_across_a_kill(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    site_file = clinic_site(tmp_path, mqtt_port=mosquitto.port)
    site = load_site(site_file)
    topics = FeedTopics.for_site(site)
    async with (
        SimulatedSite(site, seed=11) as simulators,
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
    ):
        async with gateway_process(site_file) as process:
            await watcher.status("online")
            await simulators.apply("fire", "SD-1F-01")
            fire = await watcher.event("fire:SD-1F-01", "raised")
            assert fire["alarm"]["priority"] == "critical"
            assert fire["alarm"]["zone"] == "main-1f-er"

            await simulators.apply("fire", "SD-1F-02")
            confirmed = await watcher.event("confirmed_fire:main-1f-er", "raised")
            assert confirmed["alarm"]["zone"] == "main-1f-er"
            assert confirmed["alarm"]["class"] == "fire"

            reply = await command(
                mosquitto,
                site,
                watcher,
                action="acknowledge",
                alarm="fire:SD-1F-01",
                by="guard.7",
            )
            assert reply["ok"] is True
            await watcher.event("fire:SD-1F-01", "acknowledged")
            before = await alarm_state(mosquitto, topics)
            assert before["fire:SD-1F-01"]["state"] == "acknowledged"
            assert before["fire:SD-1F-01"]["acknowledged_by"] == "guard.7"
            assert before["confirmed_fire:main-1f-er"]["state"] == "unacknowledged"

            process.kill()  # no clean shutdown: what was stored must be enough
            await process.wait()
            await watcher.status("offline")  # the last will

        seen = len(watcher.messages)
        async with gateway_process(site_file):
            await watcher.wait_for(
                lambda m: (
                    m.topic == topics.status
                    and m.json["state"] == "online"
                    and m in watcher.messages[seen:]
                )
            )
            await asyncio.sleep(3)  # several polls with both detectors still in fire
            after = await alarm_state(mosquitto, topics)
            raised_again = [
                e
                for e in (m.json for m in watcher.messages[seen:] if m.topic == topics.events)
                if e["kind"] == "raised" and e["alarm_id"].endswith(("SD-1F-01", "main-1f-er"))
            ]
    keep = ("state", "acknowledged_by", "raised_at", "zone", "priority")
    for alarm_id in ("fire:SD-1F-01", "fire:SD-1F-02", "confirmed_fire:main-1f-er"):
        assert {k: after[alarm_id][k] for k in keep} == {k: before[alarm_id][k] for k in keep}
    assert raised_again == []


@pytest.fixture
async def clinic(
    tmp_path: Path, mosquitto: MosquittoServer
) -> AsyncIterator[tuple[Site, SimulatedSite, Watcher]]:
    site = load_site(clinic_site(tmp_path, mqtt_port=mosquitto.port))
    async with (
        SimulatedSite(site, seed=5) as simulators,
        Watcher(mosquitto.host, mosquitto.port, FeedTopics.for_site(site)) as watcher,
    ):
        gateway = Gateway(site)
        task = asyncio.create_task(gateway.run())
        try:
            await watcher.status("online")
            yield site, simulators, watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_silent_camera_is_lost_and_its_zone_a_blind_spot_within_its_window(
    clinic: tuple[Site, SimulatedSite, Watcher],
) -> None:
    site, simulators, watcher = clinic
    window = site.supervision(site.devices["CAM-2F-01"])
    await asyncio.sleep(2.5)  # every camera has published at least once
    went_silent = time.monotonic()
    await simulators.apply("silent", "CAM-2F-01")
    lost = await watcher.event("comms_lost:CAM-2F-01", "raised")
    took = time.monotonic() - went_silent
    blind = await watcher.event("blind_spot:main-2f-ward", "raised")
    assert took <= window + 0.5  # the window runs from the last message, before the silence
    assert lost["alarm"]["class"] == "trouble"
    assert "main-2f-ward" in blind["alarm"]["message"]
    assert blind["alarm"]["zone"] == "main-2f-ward"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "a command must be JSON"),
        (
            {"action": "acknowledge", "alarm": "fire:NOPE", "by": "al"},
            "unknown alarm",
        ),
        ({"action": "acknowledge", "alarm": "fire:SD-B1-01"}, "by"),
    ],
)
async def test_bad_commands_are_refused_with_a_reason_and_change_nothing(
    clinic: tuple[Site, SimulatedSite, Watcher],
    mosquitto: MosquittoServer,
    payload: bytes | dict[str, Any],
    reason: str,
) -> None:
    site, simulators, watcher = clinic
    if isinstance(payload, dict):
        payload = signed(site.path, payload, key_of="al")
    topics = FeedTopics.for_site(site)
    await simulators.apply("fire", "SD-B1-01")
    await watcher.event("fire:SD-B1-01", "raised")
    before = await alarm_state(mosquitto, topics)
    events_before = len(watcher.events())
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        await client.publish(topics.commands, payload, qos=1)
    reply = await watcher.wait_for(lambda m: m.topic == topics.replies)
    assert reply.json["ok"] is False
    assert reason in reply.json["reason"]
    await asyncio.sleep(0.5)
    assert await alarm_state(mosquitto, topics) == before
    assert [e["kind"] for e in watcher.events()[events_before:]] == []


async def test_acknowledging_a_cleared_alarm_is_refused(
    clinic: tuple[Site, SimulatedSite, Watcher], mosquitto: MosquittoServer
) -> None:
    site, simulators, watcher = clinic
    await simulators.apply("detector_fault", "SD-2F-02")
    await watcher.event("detector_fault:SD-2F-02", "raised")  # after its 10 s on-delay
    assert (
        await command(
            mosquitto,
            site,
            watcher,
            action="acknowledge",
            alarm="detector_fault:SD-2F-02",
            by="al",
        )
    )["ok"] is True
    await simulators.apply("clear", "SD-2F-02")
    await watcher.event("detector_fault:SD-2F-02", "cleared")
    reply = await command(
        mosquitto,
        site,
        watcher,
        action="acknowledge",
        alarm="detector_fault:SD-2F-02",
        by="al",
    )
    assert reply["ok"] is False
    assert reply["reason"]
