"""The benchmark's view of the alarm feed: a security office's MQTT client, and its clock.

`FeedWatcher` is an MQTT client of its own on a gateway's events, command replies and status; it
stamps each arrival with this process's monotonic and wall clocks and sends commands (`reset`)
as the security office would. `bench.looplag.LoopLag` tells how late this process's event
loop ran, which is how late an arrival may have been stamped.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Self

import aiomqtt

from gateway.alarms import FeedTopics

COMMAND_TIMEOUT = 10.0
BY = "bench"
_CLIENTS = itertools.count(1)
"""Numbers this process's MQTT clients, so that several watchers never share a client id."""


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
            self._client = await stack.enter_async_context(
                aiomqtt.Client(
                    self.host,
                    self.port,
                    identifier=f"bench-{os.getpid()}-{next(_CLIENTS)}",
                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                )
            )
            topics = self.topics
            await self._client.subscribe(
                [(topics.events, 1), (topics.replies, 1), (topics.status, 1)]
            )
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
            raise RuntimeError(
                f"no reply to {action} {alarm} within {COMMAND_TIMEOUT:g} s; "
                "is the gateway serving commands?"
            ) from None
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
