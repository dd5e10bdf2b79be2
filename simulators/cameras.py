"""A simulated camera fleet: the NVR publishing each camera's health JSON over MQTT.

One aiomqtt client publishes every MQTT device of the site (in the shipped configs, the
cameras) to its topic every poll interval, QoS 1. The document is built from the device's
profile: each point's value goes to the point's dotted path (`stream.fps`), so a profile
change moves the simulator and the gateway together. A `silent` device stops publishing; a
`garbage` one cycles through payloads a broken NVR might send. If the broker goes away, the
fleet reconnects with backoff and carries on.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import math
import secrets
from collections.abc import Awaitable, Iterator
from typing import Any

import aiomqtt

from core import Value
from drivers.mqtt import FieldPoint, FieldType, MqttProfile
from gateway.config import MqttConnection, MqttSource, Site
from simulators.devices import DeviceFleet, SimulatedDevice
from simulators.faults import LinkFault

logger = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 0.5, 10.0
BROKER_TIMEOUT = 5.0  # seconds to connect, to have a publish acknowledged, to disconnect


def health_document(profile: MqttProfile, values: dict[str, Value]) -> dict[str, Any]:
    """The JSON document for `values`, laid out as the profile's dotted paths say."""
    document: dict[str, Any] = {}
    for point in profile.points:
        if point.name not in values:
            continue
        *parents, leaf = point.keys
        node = document
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = _payload_value(point, values[point.name])
    return document


def _payload_value(point: FieldPoint, value: Value) -> Value:
    """Undo the profile's enum table and scale; give the field its JSON type."""
    if point.enum is not None:
        by_state: dict[Value, str] = {state: raw for raw, state in point.enum.items()}
        return by_state.get(value, str(value))
    if point.type is FieldType.BOOL:
        return bool(value)
    if point.type is FieldType.STR:
        return str(value)
    number = float(value) / (point.scale or 1.0)
    return round(number) if point.type is FieldType.INT else number


def garbage_payloads(profile: MqttProfile) -> Iterator[bytes]:
    """What a broken publisher sends, in turn: not JSON, an array, a NaN, an oversized blob."""
    oversized = json.dumps({"padding": "x" * profile.max_payload_bytes}).encode()
    return itertools.cycle([b'{"online": tru', b"[1, 2, 3]", b'{"fps": NaN}', oversized])


def publishable(topic: str) -> str:
    """A topic to publish on for a device's topic, which is a filter when its template has
    wildcard levels besides `{device}`: each `+` becomes `sim`, and a final `#` goes."""
    levels = ["sim" if level == "+" else level for level in topic.split("/")]
    return "/".join(levels[:-1] if levels[-1] == "#" and len(levels) > 1 else levels)


async def _connect(client: aiomqtt.Client) -> None:
    """Connect within BROKER_TIMEOUT. Cancelled meanwhile, it still lets the attempt end and
    closes what it opened: aiomqtt connects in a worker thread that no cancel stops, and an
    abandoned client would keep its socket until garbage collection, after its loop is gone."""
    attempt = asyncio.ensure_future(_bounded(client.__aenter__()))
    try:
        await asyncio.shield(attempt)
    except asyncio.CancelledError:
        await asyncio.wait([attempt])
        if not attempt.cancelled() and attempt.exception() is None:
            await _disconnect(client)
        raise


async def _disconnect(client: aiomqtt.Client) -> None:
    await _bounded(client.__aexit__(None, None, None))


async def _bounded(step: Awaitable[Any]) -> Any:
    async with asyncio.timeout(BROKER_TIMEOUT):
        return await step


class _Publisher:
    """One device's topic, interval and garbage cycle."""

    def __init__(
        self, device: SimulatedDevice, topic: str, profile: MqttProfile, interval: float
    ) -> None:
        self.device, self.topic, self.profile, self.interval = device, topic, profile, interval
        self.garbage = garbage_payloads(profile)

    def payload(self) -> bytes | None:
        """The next payload, or None while the device is silent."""
        fault = self.device.link_fault
        if fault is LinkFault.SILENT:
            return None
        if fault is LinkFault.GARBAGE:
            return next(self.garbage)
        return json.dumps(health_document(self.profile, self.device.values())).encode()


class CameraFleet:
    """Publishes every MQTT device of the site until cancelled; see the module docstring.

    All waits on the broker are bounded with `asyncio.timeout` and aiomqtt's own timeout is
    off: aiomqtt would use `asyncio.wait_for`, which on Python 3.11 can swallow a cancellation
    that arrives just as the wait completes (CPython gh-86296), and shutdown would then hang.
    """

    def __init__(
        self, site: Site, fleet: DeviceFleet, *, host: str | None = None, port: int | None = None
    ) -> None:
        connection = site.config.mqtt or MqttConnection()
        self.connection = connection
        self.host = host or connection.host
        self.port = port or connection.port
        self.publishers = [
            _Publisher(
                fleet[device.id],
                publishable(site.mqtt_topic(device).topic),
                site.mqtt_profile(device),
                site.poll_interval(device),
            )
            for device in site.config.devices
            if isinstance(device.source, MqttSource)
        ]
        self.identifier = f"firegw-sim-{site.config.site.id}-{secrets.token_hex(3)}"
        secret = connection.password
        self.password = secret.reveal() if secret is not None else None  # fail at start-up
        self._failing, self._delay = False, RETRY_FIRST

    async def run(self) -> None:
        """Connect, publish, and on a broker failure reconnect with backoff; until cancelled."""
        while True:
            try:
                await self._session()
            except (aiomqtt.MqttError, TimeoutError) as error:
                if not self._failing:
                    logger.warning(
                        "camera fleet: broker %s:%s: %s; retrying",
                        self.host,
                        self.port,
                        error or "timed out",
                    )
                self._failing = True
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, RETRY_MAX)

    async def _session(self) -> None:
        """One connection: publish on schedule until the broker fails."""
        client = self._client()
        await _connect(client)
        try:
            if self._failing:
                logger.info("camera fleet: connected to %s:%s again", self.host, self.port)
            self._failing, self._delay = False, RETRY_FIRST
            await self._publish(client)
        finally:
            await _disconnect(client)

    def _client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.identifier,
            username=self.connection.username,
            password=self.password,
            keepalive=self.connection.keepalive,
            timeout=math.inf,
        )

    async def _publish(self, client: aiomqtt.Client) -> None:
        """Publish each device every poll interval, in time order, QoS 1, one at a time."""
        loop = asyncio.get_running_loop()
        due = [(loop.time(), index) for index in range(len(self.publishers))]
        while due:
            at, index = due[0]
            await asyncio.sleep(max(0.0, at - loop.time()))
            publisher = self.publishers[index]
            heapq.heapreplace(due, (max(at + publisher.interval, loop.time()), index))
            payload = publisher.payload()
            if payload is not None:
                async with asyncio.timeout(BROKER_TIMEOUT):
                    await client.publish(publisher.topic, payload, qos=1)
