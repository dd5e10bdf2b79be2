"""The console's link to one broker: it reads the feed of every site on that broker into the
board, carries the operators' signed commands and brings back the gateways' replies.

It reconnects by itself, with backoff, for as long as the console runs, and the board says
so (`reconnecting`, with the reason) while it is away. After every (re)connect the board is
rebuilt from the retained topics: the retained alarm states arrive right after subscribing,
and once none has come for `settle` seconds the alarms the broker no longer holds are
dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import aiomqtt

from core import (
    Backoff,
    ConnectionHealth,
    JsonError,
    parse_json,
    raise_if_stopping,
    stopping,
)
from drivers.mqtt import BrokerSpec, connected
from firegw.console.board import Board
from firegw.console.places import Place
from gateway.alarms import encode

log = logging.getLogger(__name__)

SETTLE = 0.5
"""Seconds without a retained alarm after which the retained topics are all in."""
SETTLE_CAP = 10.0
REPLY_TIMEOUT = 10.0


class NotConnected(Exception):
    """The broker is away: a command cannot be sent now."""


class FeedLink:
    def __init__(
        self,
        spec: BrokerSpec,
        places: Sequence[Place],
        board: Board,
        *,
        settle: float = SETTLE,
        reconnect_initial: float = 1.0,
    ) -> None:
        self.spec = spec
        self.places = list(places)
        self.board = board
        self.settle = settle
        self.backoff = Backoff(reconnect_initial, 30.0)
        self.health = ConnectionHealth(
            log, f"console feed {spec.where}", retrying="reconnecting with backoff up to 30 s"
        )
        self._client: aiomqtt.Client | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._last_retained = 0.0
        self._site_ids = [place.id for place in self.places]

    @property
    def name(self) -> str:
        return self.spec.where

    async def run(self) -> None:
        """Keep the link up until cancelled."""
        self.board.set_link(self.name, self._site_ids, "connecting", None)
        while True:
            try:
                async with connected(self.spec.client()) as client:
                    self._client = client
                    await self._serve(client)
            except aiomqtt.MqttError as error:
                if stopping():  # the cancellation, come back as "disconnected": stop
                    raise asyncio.CancelledError from error
                self._client = None
                reason = str(error) or type(error).__name__
                if self.health.up:
                    self.health.lost(f"connection lost: {reason}")
                else:
                    self.health.failed(reason)
                self.board.set_link(self.name, self._site_ids, "reconnecting", reason)
                self._fail_replies()
            finally:
                self._client = None
            await asyncio.sleep(self.backoff.next_delay())

    async def _serve(self, client: aiomqtt.Client) -> None:
        subscriptions = [
            (topic, 1)
            for place in self.places
            for topic in (
                place.topics.status,
                place.topics.alarms,
                place.topics.events,
                place.topics.replies,
            )
        ]
        self.board.begin_rebuild(self._site_ids)
        self._last_retained = time.monotonic()
        await client.subscribe(subscriptions)
        raise_if_stopping()  # a stop that came with the SUBACK (see core)
        self.health.connected(self.name)
        self.backoff.reset()
        self.board.set_link(self.name, self._site_ids, "online", None)
        lost: aiomqtt.MqttError = aiomqtt.MqttError("the broker closed the connection")
        # In a group: a bug in settling ends the connection and the link is restarted (see
        # `Console.run`); a dropped connection ends the settling.
        async with asyncio.TaskGroup() as tasks:
            settling = tasks.create_task(self._settle())
            try:
                async for message in client.messages:
                    self._receive(message)
            except aiomqtt.MqttError as error:
                lost = error
            settling.cancel()
        raise lost

    async def _settle(self) -> None:
        started = time.monotonic()
        while True:
            now = time.monotonic()
            quiet = now - self._last_retained
            if quiet >= self.settle or now - started >= SETTLE_CAP:
                self.board.end_rebuild(self._site_ids)
                return
            await asyncio.sleep(self.settle - quiet)

    def _receive(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        for place in self.places:
            alarm_id = place.topics.alarm_id_of(topic)
            if alarm_id is not None:
                if message.retain:
                    self._last_retained = time.monotonic()
                document = _document(payload)
                if document is not None or not payload:  # empty: gone; not JSON: ignored
                    self.board.set_alarm(place.id, alarm_id, document)
                return
            if topic == place.topics.events:
                event = _document(payload)
                if event is not None:
                    self.board.add_event(place.id, event)
                return
            if topic == place.topics.status:
                status = _document(payload)
                if status is not None:
                    self.board.set_status(place.id, status)
                return
            if topic == place.topics.replies:
                reply = _document(payload)
                if reply is not None:
                    self._answer(reply)
                return

    def _answer(self, reply: dict[str, Any]) -> None:
        request_id = reply.get("request_id")
        waiting = self._replies.get(request_id) if isinstance(request_id, str) else None
        if waiting is not None and not waiting.done():
            waiting.set_result(reply)

    def _fail_replies(self) -> None:
        for waiting in self._replies.values():
            if not waiting.done():
                waiting.set_exception(NotConnected(f"the link to {self.name} dropped"))

    async def command(self, place: Place, command: dict[str, Any]) -> dict[str, Any]:
        """Publish a signed command on the site's command topic and wait for the reply.

        `command` carries its `request_id`. Raises `NotConnected` when the broker is away and
        `TimeoutError` when no reply comes within 10 s (the gateway is offline).
        """
        client = self._client
        if client is None:
            raise NotConnected(f"the console is not connected to the broker {self.name}")
        request_id = str(command["request_id"])
        waiting: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = waiting
        try:
            try:
                await client.publish(place.topics.commands, encode(command), qos=1)
            except aiomqtt.MqttError as error:
                raise NotConnected(f"the broker {self.name}: {error}") from None
            async with asyncio.timeout(REPLY_TIMEOUT):
                return await waiting
        finally:
            del self._replies[request_id]


def new_request_id() -> str:
    return f"console-{uuid.uuid4().hex[:16]}"


def _document(payload: bytes | bytearray) -> dict[str, Any] | None:
    """The JSON object of a payload; None for an empty one (a gone alarm) or anything else."""
    if not payload:
        return None
    with contextlib.suppress(JsonError, UnicodeDecodeError):
        document = parse_json(bytes(payload).decode())
        if isinstance(document, dict):
            return document
    return None
