"""Receiving device status over MQTT: subscribe to the devices' topics, decode, deliver.

Cameras and NVRs (and some wireless detectors) publish a JSON document per device, each on its
own exact topic or on a topic template shared by many devices (see `drivers.mqtt.topics`). The
driver holds one connection to the broker, subscribes QoS 1 to every exact topic and once to
every template, and turns each message into its device's readings. It reconnects forever with
backoff when the broker goes away. A payload it cannot use is counted, logged and handed to an
optional `on_reject` callback (the gateway keeps them for inspection), never allowed to end the
driver.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from paho.mqtt.reasoncodes import ReasonCode

from core import (
    Backoff,
    Boundary,
    ConnectionHealth,
    RateLimit,
    Reading,
    ReadingSink,
    now_ns,
    raise_if_stopping,
    stopping,
)
from drivers.mqtt.decode import PayloadError, decode_payload
from drivers.mqtt.failures import LibraryLog, describe_failure
from drivers.mqtt.rejects import RejectedPayload, RejectHandler, field_error_reason
from drivers.mqtt.routing import MqttDevice, TopicRouter
from drivers.mqtt.session import connected

log = logging.getLogger(__name__)

RECONNECT_INITIAL = 1.0
RECONNECT_CAP = 30.0
REJECTION_LOG_EVERY = 60.0
QOS = 1


@dataclass(frozen=True)
class BrokerSpec:
    """Where the broker is and how to log in.

    With a `client_id` the session is persistent (clean_session off), so the broker keeps QoS 1
    messages for the gateway while it reconnects; without one, each connection starts clean.
    """

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str | None = None
    keepalive: int = 30
    tls: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    """TLS (certificate and host name checked), or None for plain MQTT."""

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"MQTT broker {self.host}: port {self.port!r} is not within 1..65535")

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def client(self, *, clean_session: bool | None = None, **options: Any) -> aiomqtt.Client:
        """An aiomqtt client for this broker and login, named `client_id` (persistent session)
        or anonymous (clean); `options` go to aiomqtt as they are (a will, socket options, a
        `logger` such as a `LibraryLog`'s)."""
        if clean_session is None:
            clean_session = self.client_id is None
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            identifier=self.client_id,
            clean_session=clean_session,
            keepalive=self.keepalive,
            tls_context=self.tls,
            **options,
        )


@dataclass
class MqttStats:
    """Counters of the MQTT driver, for the gateway's status page.

    `rejected` (unusable payloads) and `field_errors` (documents with undecodable fields) are by
    device id; `unknown_topics` by topic; `unknown_devices` by the template whose `{device}`
    level named no configured device (bounded by the number of templates, whatever is sent).
    """

    received: int = 0
    delivered: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    sink_failures: int = 0
    reject_handler_failures: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    field_errors: Counter[str] = field(default_factory=Counter)
    unknown_topics: Counter[str] = field(default_factory=Counter)
    unknown_devices: Counter[str] = field(default_factory=Counter)


class MqttDriver:
    """Subscribes to every device's topic on one broker and delivers each message's readings.

    Every usable message ends in one call of the sink with the device's readings, all with the
    time the message was received as `observed_at`. A payload that is not a usable JSON
    document is counted in `stats.rejected` by device and logged at most once a minute per
    device; it and any document with undecodable fields go to `on_reject`, which must not
    block (an exception it raises is counted and logged, never stops the driver). A message on
    a topic no device uses is counted in `stats.unknown_topics`; one on a template whose
    `{device}` level names no device in `stats.unknown_devices`, logged once a minute.
    """

    def __init__(
        self,
        broker: BrokerSpec,
        devices: Sequence[MqttDevice],
        *,
        rng: random.Random | None = None,
        on_reject: RejectHandler | None = None,
    ) -> None:
        self.broker = broker
        self.router = TopicRouter(devices)
        self.stats = MqttStats()
        self.on_reject = on_reject
        self.health = ConnectionHealth(
            log,
            "MQTT",
            retrying=f"reconnecting with backoff up to {RECONNECT_CAP:g} s",
            counters=self.stats,
        )
        self._rng = rng or random.Random()
        self._units = {d.id: {p.name: p.unit for p in d.profile.points} for d in devices}
        self._limit = RateLimit(REJECTION_LOG_EVERY)
        self._delivery = Boundary(log, "MQTT: handling a message")
        self._library = LibraryLog(log)
        self._reject_handler = Boundary(log, "MQTT: keeping a rejected payload")

    @property
    def connected(self) -> bool:
        """Whether the connection to the broker is up right now."""
        return self.health.up

    @property
    def rejected(self) -> Counter[str]:
        """Unusable payloads so far, by device id."""
        return self.stats.rejected

    async def run(self, sink: ReadingSink) -> None:
        """Receive and deliver until cancelled, reconnecting with backoff whenever needed."""
        if not len(self.router):
            await asyncio.Event().wait()
        backoff = Backoff(RECONNECT_INITIAL, RECONNECT_CAP, rng=self._rng)
        try:
            while True:
                await self._connection(sink, backoff)
                await asyncio.sleep(backoff.next_delay())
        finally:
            self.health.closed()

    async def _connection(self, sink: ReadingSink, backoff: Backoff) -> None:
        """One connection, from connecting until the broker goes away."""
        try:
            await self._session(sink, backoff)
        except aiomqtt.MqttError as exc:
            if stopping():  # the cancellation, come back as "disconnected": stop
                raise asyncio.CancelledError from exc
            self.health.failed(describe_failure(exc, self.broker, self._library))

    async def _session(self, sink: ReadingSink, backoff: Backoff) -> None:
        """One connection: subscribe, then handle messages until the broker goes away."""
        async with connected(self.broker.client(logger=self._library.logger)) as client:
            filters = self.router.subscriptions
            granted = await client.subscribe([(topic, QOS) for topic in filters])
            raise_if_stopping()  # a stop that came with the SUBACK
            self._note_up(filters, granted)
            backoff.reset()
            async for message in client.messages:
                with self._delivery:  # a failing sink costs this message, not the connection
                    await self._handle(message, sink)
                self.stats.sink_failures = self._delivery.failures

    async def _handle(self, message: aiomqtt.Message, sink: ReadingSink) -> None:
        observed_at = now_ns()
        self.stats.received += 1
        topic = message.topic.value
        device = self.router.device_for(topic)
        if device is None:
            self._unknown(topic)
            return
        readings = self._readings(device, topic, _bytes(message.payload), observed_at)
        if readings:
            await sink(readings)
            self.stats.delivered += 1

    def _unknown(self, topic: str) -> None:
        """Count a message no device is for: by template when one matched, else by topic."""
        template = self.router.template_of(topic)
        if template is None:
            self.stats.unknown_topics[topic] += 1
            if self.stats.unknown_topics[topic] == 1:
                log.warning("MQTT message on %s, which no device uses; ignored", topic)
            return
        self.stats.unknown_devices[template.text] += 1
        if self._limit.due(f"template {template.text}"):
            log.warning(
                "MQTT message on %s: %r is not the key of any device on %s; ignored (%d so far)",
                topic,
                template.key_of(topic),
                template.text,
                self.stats.unknown_devices[template.text],
            )

    def _readings(
        self, device: MqttDevice, topic: str, payload: bytes, observed_at: int
    ) -> list[Reading]:
        try:
            results = decode_payload(device.profile, payload)
        except PayloadError as error:
            self._reject(device, topic, error.reason)
            self._hand_over(device, topic, payload, error.reason, observed_at)
            return []
        units = self._units[device.id]
        readings = [
            Reading(device.id, name, value, quality, units[name], observed_at, detail)
            for name, value, quality, detail in results
        ]
        self._field_errors(device, topic, payload, readings)
        return readings

    def _reject(self, device: MqttDevice, topic: str, reason: str) -> None:
        """Count an unusable payload; log the reason at most once a minute per device."""
        self.stats.rejected[device.id] += 1
        if self._limit.due(device.id):
            log.warning(
                "device %s: unusable payload on %s: %s (%d rejected so far)",
                device.id,
                topic,
                reason,
                self.stats.rejected[device.id],
            )

    def _field_errors(
        self, device: MqttDevice, topic: str, payload: bytes, readings: list[Reading]
    ) -> None:
        """Hand over a usable document whose fields did not all decode (the readings say why)."""
        reason = field_error_reason(readings)
        if reason is not None:
            self.stats.field_errors[device.id] += 1
            self._hand_over(device, topic, payload, reason, readings[0].observed_at)

    def _hand_over(
        self, device: MqttDevice, topic: str, payload: bytes, reason: str, received_at: int
    ) -> None:
        """Give a rejected payload to `on_reject`; whatever it raises stays here."""
        if self.on_reject is None:
            return
        with self._reject_handler:  # a broken dead-letter store must not stop the readings
            self.on_reject(RejectedPayload(device.id, topic, payload, reason, received_at))
        self.stats.reject_handler_failures = self._reject_handler.failures

    def _note_up(self, filters: list[str], granted: Sequence[int | ReasonCode]) -> None:
        detail = f"subscribed to {len(filters)} topics for {len(self.router)} devices"
        self.health.connected(self.broker.where, detail)
        for topic, code in zip(filters, granted, strict=False):
            if code.is_failure if isinstance(code, ReasonCode) else code >= 0x80:
                log.warning("MQTT: broker %s refused subscription to %s", self.broker.where, topic)


def _bytes(payload: aiomqtt.types.PayloadType) -> bytes:
    """A received payload as bytes (aiomqtt types it broadly; received ones are bytes)."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()
