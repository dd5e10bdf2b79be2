"""The MQTT driver against a real Mosquitto: decoding, garbage, unknown topics, broker restarts."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt
import pytest
import yaml

from core.reading import Quality, Reading
from drivers.mqtt import BrokerSpec, MqttDevice, MqttDriver, MqttProfile
from tests.conftest import MosquittoFactory
from tests.servers import MosquittoServer
from tests.sites import CONFIG

PROFILES = CONFIG / "profiles"
CAMERA = MqttProfile.model_validate(
    yaml.safe_load((PROFILES / "camera-health.yaml").read_text(encoding="utf-8"))
)


def health(fps: float = 25.0, **changes: Any) -> bytes:
    """A camera-health document as an NVR publishes it."""
    document = {
        "online": True,
        "recording": True,
        "stream": {"fps": fps, "bitrate_kbps": 4096},
        "storage": {"retention_days": 92},
        "tamper": False,
        "video_loss": False,
        **changes,
    }
    return json.dumps(document).encode()


def topic(name: str) -> str:
    """A topic no other test (sharing the session's broker) uses."""
    return f"test/{uuid.uuid4().hex}/{name}"


def broker_of(server: MosquittoServer, client_id: str | None = None) -> BrokerSpec:
    return BrokerSpec(host=server.host, port=server.port, client_id=client_id)


class Collector:
    """A reading sink that lets a test wait for the batch it wants, in order of arrival."""

    def __init__(self) -> None:
        self.batches: list[list[Reading]] = []
        self._cursor = 0
        self._new = asyncio.Event()

    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.batches.append(list(readings))
        self._new.set()

    async def next(
        self, where: Callable[[dict[str, Reading]], bool], within: float = 30.0
    ) -> dict[str, Reading]:
        """The first batch after the last one returned that satisfies `where`, by point."""
        async with asyncio.timeout(within):
            while True:
                for index in range(self._cursor, len(self.batches)):
                    if where(batch := {r.point: r for r in self.batches[index]}):
                        self._cursor = index + 1
                        return batch
                self._cursor = len(self.batches)
                self._new.clear()
                await self._new.wait()


def fps_is(value: float) -> Callable[[dict[str, Reading]], bool]:
    return lambda batch: "fps" in batch and batch["fps"].value == value


async def publish(
    server: MosquittoServer, where: str, *payloads: bytes, retain: bool = False
) -> None:
    """Publish payloads in order, QoS 1, from a client of the test's own."""
    async with aiomqtt.Client(server.host, server.port) as client:
        for payload in payloads:
            await client.publish(where, payload, qos=1, retain=retain)


@asynccontextmanager
async def running(driver: MqttDriver, sink: Collector) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(driver.run(sink))
    try:
        yield task
    finally:
        task.cancel()
        async with asyncio.timeout(5):
            await asyncio.gather(task, return_exceptions=True)


async def subscribed(server: MosquittoServer, where: str, sink: Collector, fps: float) -> None:
    """Publish a retained document and wait for it: then the driver's subscription is live."""
    await publish(server, where, health(fps), retain=True)
    await sink.next(fps_is(fps))


async def test_good_document_becomes_readings(mosquitto: MosquittoServer) -> None:
    cam = topic("cam-01")
    driver = MqttDriver(broker_of(mosquitto), [MqttDevice("cam-01", cam, CAMERA)])
    sink = Collector()
    async with running(driver, sink):
        await subscribed(mosquitto, cam, sink, 24.0)
        await publish(mosquitto, cam, health(12.5, recording=False, temperature=48.5))
        batch = await sink.next(fps_is(12.5))
    assert {p: (r.value, r.quality, r.unit) for p, r in batch.items()} == {
        "online": (True, Quality.GOOD, None),
        "recording": (False, Quality.GOOD, None),
        "fps": (12.5, Quality.GOOD, "fps"),
        "bitrate": (4096.0, Quality.GOOD, "kbps"),
        "retention_days": (92, Quality.GOOD, "d"),
        "tamper": (False, Quality.GOOD, None),
        "video_loss": (False, Quality.GOOD, None),
        "temperature": (48.5, Quality.GOOD, "°C"),
    }
    assert {r.device for r in batch.values()} == {"cam-01"}
    assert len({r.observed_at for r in batch.values()}) == 1
    assert driver.stats.connects == 1


async def test_bad_field_is_a_decode_error_reading(mosquitto: MosquittoServer) -> None:
    cam = topic("cam-02")
    driver, sink = (
        MqttDriver(broker_of(mosquitto), [MqttDevice("cam-02", cam, CAMERA)]),
        Collector(),
    )
    async with running(driver, sink):
        await subscribed(mosquitto, cam, sink, 25.0)
        await publish(mosquitto, cam, health(25.0, storage={}, tamper="yes"))
        batch = await sink.next(lambda b: not b["tamper"].good)
    assert (batch["tamper"].value, batch["tamper"].detail) == (None, "expected bool, got str")
    assert batch["retention_days"].detail == "missing field storage.retention_days"
    assert batch["retention_days"].quality is Quality.DECODE_ERROR
    assert batch["fps"].good


GARBAGE = [
    b"camera ok",
    b"[1, 2, 3]",
    b'{"online": true, "stream": {"fps": NaN}}',
    b'{"padding": "' + b"x" * 20_000 + b'"}',
    b"\xff\xfe\x00",
]


async def test_garbage_is_counted_and_survived(
    mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    cam = topic("cam-03")
    driver, sink = (
        MqttDriver(broker_of(mosquitto), [MqttDevice("cam-03", cam, CAMERA)]),
        Collector(),
    )
    async with running(driver, sink) as task:
        await subscribed(mosquitto, cam, sink, 25.0)
        caplog.set_level(logging.WARNING, logger="drivers.mqtt.subscriber")
        await publish(mosquitto, cam, *GARBAGE, health(7.5))
        await sink.next(fps_is(7.5))
        assert not task.done()
    assert driver.rejected == {"cam-03": len(GARBAGE)}
    assert all(r.good for batch in sink.batches for r in batch)
    rejections = [r.getMessage() for r in caplog.records if "unusable payload" in r.getMessage()]
    assert rejections == [
        f"device cam-03: unusable payload on {cam}: "
        "not JSON: Expecting value at line 1 column 1 (1 rejected so far)"
    ]


async def test_a_failing_sink_costs_one_message(mosquitto: MosquittoServer) -> None:
    cam = topic("cam-07")
    collector, calls = Collector(), 0

    async def flaky(readings: Sequence[Reading]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("outbox full")
        await collector(readings)

    driver = MqttDriver(broker_of(mosquitto), [MqttDevice("cam-07", cam, CAMERA)])
    task = asyncio.create_task(driver.run(flaky))
    try:
        await subscribed(mosquitto, cam, collector, 25.0)
        await publish(mosquitto, cam, health(1.0), health(2.0))
        await collector.next(fps_is(2.0))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert (driver.stats.sink_failures, driver.stats.connects) == (1, 1)


async def test_unknown_topic_is_counted(mosquitto: MosquittoServer) -> None:
    """A device removed from the config while the broker still holds the gateway's session."""
    kept, removed = topic("cam-04"), topic("cam-05")
    client_id = f"firegw-test-{uuid.uuid4().hex[:8]}"
    before = MqttDriver(
        broker_of(mosquitto, client_id),
        [MqttDevice("cam-04", kept, CAMERA), MqttDevice("cam-05", removed, CAMERA)],
    )
    first = Collector()
    async with running(before, first):
        await subscribed(mosquitto, removed, first, 25.0)
    after = MqttDriver(broker_of(mosquitto, client_id), [MqttDevice("cam-04", kept, CAMERA)])
    sink = Collector()
    async with running(after, sink):
        await subscribed(mosquitto, kept, sink, 30.0)
        await publish(mosquitto, removed, health(5.0))
        await publish(mosquitto, kept, health(6.0))
        await sink.next(fps_is(6.0))
    assert after.stats.unknown_topics == {removed: 1}
    assert not any(r.device == "cam-05" for batch in sink.batches for r in batch)


async def test_reconnects_after_broker_restart(mosquitto_factory: MosquittoFactory) -> None:
    server = mosquitto_factory()
    cam = topic("cam-06")
    driver, sink = MqttDriver(broker_of(server), [MqttDevice("cam-06", cam, CAMERA)]), Collector()
    async with running(driver, sink) as task:
        await subscribed(server, cam, sink, 25.0)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(1.5)  # the driver finds the broker gone and keeps retrying
        await asyncio.to_thread(server.start)
        await publish(server, cam, health(3.5), retain=True)
        batch = await sink.next(fps_is(3.5), within=40)
        assert not task.done()
    assert batch["fps"].quality is Quality.GOOD
    assert driver.stats.reconnects >= 1
    assert driver.connected is False  # cancelled: no longer connected


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda: MqttDevice("cam-01", "nvr/+/health", CAMERA),
            "device cam-01: topic 'nvr/+/health': a topic with + or # needs a {device} level to "
            "say which device a message is for",
            id="wildcard",
        ),
        pytest.param(
            lambda: MqttDevice("cam-01", "nvr/cam-01/health", CAMERA, key="ch01"),
            "device cam-01: a key applies only to a topic with {device}",
            id="key-without-template",
        ),
        pytest.param(
            lambda: MqttDriver(
                BrokerSpec("localhost", 1883),
                [
                    MqttDevice("a", "nvr/{device}/+", CAMERA, key="ch1"),
                    MqttDevice("b", "nvr/{device}/+", CAMERA, key="ch1"),
                ],
            ),
            "devices a and b share topic 'nvr/ch1/+'",
            id="shared-key",
        ),
        pytest.param(
            lambda: MqttDriver(
                BrokerSpec("localhost", 1883),
                [MqttDevice("a", "t/1", CAMERA), MqttDevice("b", "t/1", CAMERA)],
            ),
            "devices a and b share topic 't/1'",
            id="shared-topic",
        ),
        pytest.param(
            lambda: BrokerSpec("localhost", 0),
            "MQTT broker localhost: port 0 is not within 1..65535",
            id="port",
        ),
    ],
)
def test_specs_reject_bad_values(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make()
