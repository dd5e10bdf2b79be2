"""MQTT over TLS against a real Mosquitto with a generated CA: the alarm feed and the MQTT
driver connect with the site's CA (and a client certificate when the broker asks for one), and
a certificate that does not verify is named in the log once instead of retried in silence."""

from __future__ import annotations

import asyncio
import logging
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.mqtt import MqttDevice, MqttDriver
from gateway.alarms import AlarmFeed, FeedTopics
from gateway.config import Site, load_site
from tests.mqtt_watch import Watcher
from tests.servers import MosquittoServer
from tests.sites import clinic_site, eventually
from tests.tls import Pki, make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def tls_broker(folder: Path, pki: Pki, *, client_certificates: bool = False) -> MosquittoServer:
    settings = (
        f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        "tls_version tlsv1.2\nallow_anonymous true\n"
    )
    if client_certificates:
        settings += "require_certificate true\n"
    return MosquittoServer(folder, settings=settings)


@pytest.fixture
def broker(tmp_path: Path, pki: Pki) -> Iterator[MosquittoServer]:
    with tls_broker(tmp_path / "broker", pki) as server:
        yield server.start()


def tls_site(folder: Path, port: int, tls: str) -> Site:
    site_file = clinic_site(folder, mqtt_port=port)
    text = site_file.read_text()
    site_file.write_text(text.replace("topic_prefix:", f"tls: {tls}, topic_prefix:", 1))
    return load_site(site_file)


def trusting(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca))


async def test_the_feed_publishes_over_tls_with_the_sites_ca(
    tmp_path: Path, pki: Pki, broker: MosquittoServer
) -> None:
    site = tls_site(tmp_path, broker.port, f"{{ca_file: {pki.ca}}}")
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(broker.host, broker.port, topics, tls_context=trusting(pki)) as watcher,
        AlarmFeed.for_site(site) as feed,
    ):
        feed.start()
        assert (await watcher.status("online"))["state"] == "online"


async def test_the_mqtt_driver_receives_over_tls(
    tmp_path: Path, pki: Pki, broker: MosquittoServer
) -> None:
    site = tls_site(tmp_path, broker.port, f"{{ca_file: {pki.ca}}}")
    camera = site.devices["CAM-1F-01"]
    topic = site.mqtt_topic(camera).topic
    driver = MqttDriver(
        site.broker("tls-driver"), [MqttDevice(camera.id, topic, site.mqtt_profile(camera))]
    )
    received: list[str] = []

    async def sink(readings: object) -> None:
        received.append(camera.id)

    task = asyncio.create_task(driver.run(sink))
    try:
        await eventually(lambda: driver.connected, what="the driver connected over TLS")
        payload = b'{"online": true, "recording": true, "stream": {"fps": 25}}'
        context = trusting(pki)
        while not received:
            await publish_tls(broker, topic, payload, context)
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert received[0] == camera.id


async def publish_tls(
    broker: MosquittoServer, topic: str, payload: bytes, tls: ssl.SSLContext
) -> None:
    import aiomqtt

    async with aiomqtt.Client(broker.host, broker.port, tls_context=tls) as client:
        await client.publish(topic, payload, qos=1)


async def test_a_certificate_that_does_not_verify_is_named_once(
    tmp_path: Path, broker: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: pointed at a TLS listener, the gateway retried forever and never said why."""
    caplog.set_level(logging.DEBUG, logger="gateway.alarms.feed")
    stranger = make_pki(tmp_path / "other", "some other CA")
    site = tls_site(tmp_path, broker.port, f"{{ca_file: {stranger.ca}}}")
    async with AlarmFeed.for_site(site, reconnect_initial=0.1, reconnect_cap=0.2) as feed:
        feed.start()
        await eventually(lambda: feed.stats.connect_failures >= 3, what="three attempts")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"alarm feed: TLS handshake with 127.0.0.1:{broker.port} failed: certificate verify "
        "failed (self-signed certificate in certificate chain); alarms wait in memory and "
        "reconnecting with backoff up to 0.2 s"
    ]


async def test_the_brokers_name_is_checked_against_its_certificate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.alarms.feed")
    pki = make_pki(tmp_path / "pki", server_names=("broker.example",))
    with tls_broker(tmp_path / "broker", pki) as broker:
        broker.start()
        site = tls_site(tmp_path, broker.port, f"{{ca_file: {pki.ca}}}")
        async with AlarmFeed.for_site(site, reconnect_initial=0.1, reconnect_cap=0.2) as feed:
            feed.start()
            await eventually(lambda: feed.stats.connect_failures >= 1, what="an attempt")
    assert "certificate verify failed (IP address mismatch" in caplog.text


async def test_a_client_certificate_when_the_broker_asks_for_one(
    tmp_path: Path, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.alarms.feed")
    with tls_broker(tmp_path / "broker", pki, client_certificates=True) as broker:
        broker.start()
        with_cert = tls_site(
            tmp_path / "with",
            broker.port,
            f"{{ca_file: {pki.ca}, cert_file: {pki.client_cert}, key_file: {pki.client_key}}}",
        )
        without = tls_site(tmp_path / "without", broker.port, f"{{ca_file: {pki.ca}}}")
        async with AlarmFeed.for_site(with_cert) as feed:
            feed.start()
            await eventually(lambda: feed.connected, what="the feed with its certificate")
        async with AlarmFeed.for_site(without, reconnect_initial=0.1, reconnect_cap=0.2) as feed:
            feed.start()
            # each refusal waits out the client's 10 s timeout: the alert comes after the handshake
            await eventually(
                lambda: feed.stats.connect_failures >= 2, within=60, what="two refusals"
            )
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"alarm feed: TLS handshake with 127.0.0.1:{broker.port} failed: tlsv13 alert "
        "certificate required (the broker wants a client certificate: set cert_file and key_file "
        "in mqtt.tls); alarms wait in memory and reconnecting with backoff up to 0.2 s"
    ]


def test_run_refuses_a_tls_file_that_is_not_there(tmp_path: Path) -> None:
    site_file = clinic_site(tmp_path, mqtt_port=8883)
    text = site_file.read_text()
    site_file.write_text(
        text.replace("topic_prefix:", "tls: {ca_file: tls/ca.pem}, topic_prefix:", 1)
    )
    result = subprocess.run(
        [sys.executable, "-m", "firegw", "run", str(site_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr.strip()) == (
        2,
        f"site.yaml:19: mqtt.tls.ca_file: {tmp_path / 'tls' / 'ca.pem'} is not a file",
    )
