"""A test's view of the alarm feed: an MQTT client that records what the gateway publishes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

import aiomqtt

from gateway.alarms import FeedTopics
from tests.servers import MosquittoServer


def unique_topics(site: str = "demo") -> FeedTopics:
    """Topics no other test on the session's broker uses."""
    return FeedTopics(f"test-{uuid.uuid4().hex[:12]}", site)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    @property
    def json(self) -> Any:
        return json.loads(self.payload)


class Watcher:
    """A separate MQTT client recording every message under the feed's root, in order.

    With a `client_id` its session is persistent, so it also gets what was published while it
    was disconnected (a broker restart); it reconnects by itself. `login` goes to aiomqtt as it
    is (username, password, tls_context).
    """

    def __init__(
        self,
        host: str,
        port: int,
        topics: FeedTopics,
        client_id: str | None = None,
        **login: Any,
    ) -> None:
        self.host, self.port, self.topics, self.client_id = host, port, topics, client_id
        self.login = login
        self.messages: list[Received] = []
        self.subscribed = asyncio.Event()
        self._new = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run())
        async with asyncio.timeout(30):
            await self.subscribed.wait()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(aiomqtt.MqttError):
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    identifier=self.client_id,
                    clean_session=self.client_id is None,
                    **self.login,
                ) as client:
                    await client.subscribe(f"{self.topics.root}/#", qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) else b""
                        self.messages.append(Received(message.topic.value, payload, message.retain))
                        self._new.set()
            await asyncio.sleep(0.1)

    async def wait_for(self, where: Callable[[Received], bool], within: float = 30.0) -> Received:
        """The first message so far, or to come, that satisfies `where`."""
        async with asyncio.timeout(within):
            while True:
                for message in self.messages:
                    if where(message):
                        return message
                self._new.clear()
                await self._new.wait()

    def events(self) -> list[dict[str, Any]]:
        return [m.json for m in self.messages if m.topic == self.topics.events]

    def event_kinds(self) -> list[tuple[str, str]]:
        return [(e["alarm_id"], e["kind"]) for e in self.events()]

    def replies(self) -> list[dict[str, Any]]:
        return [m.json for m in self.messages if m.topic == self.topics.replies]

    async def event(self, alarm_id: str, kind: str, within: float = 30.0) -> dict[str, Any]:
        message = await self.wait_for(
            lambda m: (
                m.topic == self.topics.events
                and (m.json["alarm_id"], m.json["kind"]) == (alarm_id, kind)
            ),
            within,
        )
        return dict(message.json)

    async def reply(self, request_id: str) -> dict[str, Any]:
        message = await self.wait_for(
            lambda m: m.topic == self.topics.replies and m.json["request_id"] == request_id
        )
        return dict(message.json)

    async def status(self, state: str) -> dict[str, Any]:
        message = await self.wait_for(
            lambda m: m.topic == self.topics.status and m.json["state"] == state
        )
        return dict(message.json)


async def retained(server: MosquittoServer, topics: FeedTopics) -> dict[str, Any]:
    """What a newcomer sees: every retained message under the feed's root, by topic.

    A marker published after subscribing arrives after the retained messages, so this needs
    no waiting for silence.
    """
    marker = f"{topics.root}-marker/{uuid.uuid4().hex}"
    found: dict[str, Any] = {}
    async with aiomqtt.Client(server.host, server.port) as client:
        await client.subscribe([(f"{topics.root}/#", 1), (marker, 1)])
        await client.publish(marker, b"end", qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                if message.topic.value == marker:
                    return found
                if message.retain and isinstance(message.payload, bytes):
                    found[message.topic.value] = json.loads(message.payload)
    return found


async def publish_raw(
    server: MosquittoServer, topic: str, payload: bytes, retain: bool = False
) -> None:
    async with aiomqtt.Client(server.host, server.port) as client:
        await client.publish(topic, payload, qos=1, retain=retain)
