"""Topic templates against a real Mosquitto: one subscription, each message to its device."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from drivers.mqtt import MqttDevice, MqttDriver
from gateway.config import load_site
from gateway.runtime.wiring import mqtt_devices
from simulators import SimulatedSite
from tests.drivers.mqtt.test_subscriber import (
    CAMERA,
    Collector,
    broker_of,
    fps_is,
    health,
    publish,
    running,
    subscribed,
)
from tests.servers import MosquittoServer
from tests.sites import CONFIG


def base() -> str:
    """A topic prefix no other test (sharing the session's broker) uses."""
    return f"test/{uuid.uuid4().hex}"


async def test_a_template_with_wildcards_delivers_to_each_device(
    mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    nvr, z2m = base(), base()
    driver = MqttDriver(
        broker_of(mosquitto),
        [
            MqttDevice("OPD-CAM-01", f"{nvr}/+/{{device}}/health", CAMERA),
            MqttDevice("OPD-CAM-07", f"{nvr}/+/{{device}}/health", CAMERA, key="ch07"),
            MqttDevice("WARD-CAM", f"{z2m}/{{device}}/#", CAMERA, key="ward 3 camera"),
        ],
    )
    sink = Collector()
    caplog.set_level(logging.INFO, logger="drivers.mqtt.subscriber")
    async with running(driver, sink):
        await subscribed(mosquitto, f"{nvr}/opd/OPD-CAM-01/health", sink, 1.0)
        await publish(mosquitto, f"{nvr}/ip1/ch07/health", health(7.0))
        await publish(mosquitto, f"{z2m}/ward 3 camera", health(3.0))
        await publish(mosquitto, f"{z2m}/ward 3 camera/main/stream", health(3.5))
        await publish(mosquitto, f"{nvr}/opd/OPD-CAM-01/health", health(1.5))
        seen = {fps: (await sink.next(fps_is(fps)))["fps"].device for fps in (7.0, 3.0, 3.5)}
        seen[1.5] = (await sink.next(fps_is(1.5)))["fps"].device
    assert seen == {7.0: "OPD-CAM-07", 3.0: "WARD-CAM", 3.5: "WARD-CAM", 1.5: "OPD-CAM-01"}
    assert driver.router.subscriptions == [f"{nvr}/+/+/health", f"{z2m}/+/#"]
    assert "subscribed to 2 topics for 3 devices" in caplog.text
    assert (driver.stats.unknown_devices, driver.stats.unknown_topics) == ({}, {})


async def test_an_unknown_device_on_a_template_is_counted_and_ignored(
    mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    nvr = base()
    template = f"{nvr}/{{device}}/health"
    driver = MqttDriver(
        broker_of(mosquitto),
        [
            MqttDevice("OPD-CAM-07", template, CAMERA, key="ch07"),
        ],
    )
    sink = Collector()
    async with running(driver, sink) as task:
        await subscribed(mosquitto, f"{nvr}/ch07/health", sink, 25.0)
        caplog.set_level(logging.WARNING, logger="drivers.mqtt.subscriber")
        await publish(mosquitto, f"{nvr}/ch99/health", health(9.0), health(9.5))
        await publish(mosquitto, f"{nvr}/OPD-CAM-07/health", health(9.9))  # the id, not the key
        await publish(mosquitto, f"{nvr}/ch07/health", health(10.0))
        await sink.next(fps_is(10.0))
        assert not task.done()
    assert driver.stats.unknown_devices == {template: 3}
    assert {r.device for batch in sink.batches for r in batch} == {"OPD-CAM-07"}
    assert not any(r.value in (9.0, 9.5, 9.9) for batch in sink.batches for r in batch)
    warnings = [r.getMessage() for r in caplog.records if "not the key" in r.getMessage()]
    assert warnings == [
        f"MQTT message on {nvr}/ch99/health: 'ch99' is not the key of any device on {template}; "
        "ignored (1 so far)"
    ]


def template_site(folder: Path, port: int, nvr: str) -> Path:
    """A ward with three cameras: two on the site's template (one by its NVR channel), one
    on a template of its own."""
    profiles = CONFIG / "profiles"
    site = folder / "site.yaml"
    site.write_text(
        "site: {id: test, name: Test ward}\n"
        "buildings: [{id: main, name: Main}]\n"
        "zones: [{id: ward, building: main, name: Ward}]\n"
        f"profiles: [{profiles / 'camera-health.yaml'}]\n"
        f"mqtt: {{host: 127.0.0.1, port: {port}, topic_template: '{nvr}/+/{{device}}/health'}}\n"
        "defaults: {poll_interval: 200ms}\n"
        "devices:\n"
        "  - {id: CAM-1, kind: camera, zone: ward, profile: camera-health, source: mqtt}\n"
        "  - {id: CAM-7, kind: camera, zone: ward, profile: camera-health, source: {key: ch07}}\n"
        "  - {id: CAM-Z, kind: camera, zone: ward, profile: camera-health,\n"
        f"     source: {{topic: '{nvr}-z2m/{{device}}/#', key: lobby camera}}}}\n"
    )
    return site


async def test_the_simulators_and_the_gateway_agree_on_templated_topics(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    nvr = base()
    site = load_site(template_site(tmp_path, mosquitto.port, nvr))
    topics = {device.id: site.mqtt_topic(device).topic for device in site.config.devices}
    assert topics == {
        "CAM-1": f"{nvr}/+/CAM-1/health",
        "CAM-7": f"{nvr}/+/ch07/health",
        "CAM-Z": f"{nvr}-z2m/lobby camera/#",
    }
    driver, sink = MqttDriver(broker_of(mosquitto), mqtt_devices(site)), Collector()
    async with SimulatedSite(site, mqtt_port=mosquitto.port), running(driver, sink):
        for device in ("CAM-1", "CAM-7", "CAM-Z"):
            await sink.next(lambda batch, d=device: batch["online"].device == d)
    assert driver.router.subscriptions == [f"{nvr}/+/+/health", f"{nvr}-z2m/+/#"]
