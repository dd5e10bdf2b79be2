"""The alarm feed: alarms and events out to MQTT, people's commands in.

One MQTT connection publishes each alarm's retained state, every event and the gateway's
status, and receives commands. The public interface (topics, JSON, QoS, retain) is documented
in gateway/alarms/README.md; keep them in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiomqtt

from core import Backoff, ConnectionHealth, supervise
from drivers.mqtt import BrokerSpec, LibraryLog, describe_failure
from gateway.alarms.commands import Command, CommandError, parse_command
from gateway.alarms.outgoing import LAST, Outgoing, PublishQueue
from gateway.alarms.payloads import (
    alarm_document,
    encode,
    event_document,
    is_gone,
    reply_document,
    status_document,
)
from gateway.alarms.topics import FeedTopics
from gateway.config import Site
from rules import Alarm, AlarmEvent, CommandResult, EventKind

log = logging.getLogger(__name__)

QOS = 1
RECONNECT_INITIAL = 1.0
RECONNECT_CAP = 30.0
LATENCIES_KEPT = 10_000


@dataclass
class FeedStats:
    """Counters of the alarm feed, for the gateway's status page."""

    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    events: int = 0
    states: int = 0
    commands: int = 0
    refused: int = 0


class AlarmFeed:
    """Publishes alarms and events on MQTT and receives commands, across broker outages.

    Lifecycle: ``async with AlarmFeed(...) as feed:`` starts the connection task (in the
    feed's task group); nothing connects until `start` names the alarms that exist already
    (restored from the store), so the broker never shows an empty feed first. On every
    (re)connect the feed publishes its status `online`, then the retained state of every
    alarm, then the events that waited, most urgent first. The MQTT last will sets the status
    to `offline` when the connection dies; leaving the block publishes what is queued (for up
    to `drain_timeout` seconds), then `offline`, then disconnects.

    `publish` and `reply` never wait: they queue. Commands come out of `commands`, an async
    iterator, parsed (or as the `CommandError` saying why not); the alarm service decides
    and answers every one.

    Args:
        broker: where the broker is; `client_id` names the connection (clean session).
        topics: the site's feed topics.
        max_events: most events kept while the broker is away (see `PublishQueue`).
        reconnect_initial, reconnect_cap: reconnect backoff, doubling with jitter.
        drain_timeout: how long closing may take to publish what is queued.
    """

    def __init__(
        self,
        broker: BrokerSpec,
        topics: FeedTopics,
        *,
        max_events: int = 10_000,
        reconnect_initial: float = RECONNECT_INITIAL,
        reconnect_cap: float = RECONNECT_CAP,
        drain_timeout: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self.broker = broker
        self.topics = topics
        self.stats = FeedStats()
        self._library = LibraryLog(log)
        self.health = ConnectionHealth(
            log,
            "alarm feed",
            retrying=(
                f"alarms wait in memory and reconnecting with backoff up to {reconnect_cap:g} s"
            ),
            counters=self.stats,
        )
        self.latencies: deque[float] = deque(maxlen=LATENCIES_KEPT)
        """Seconds from a reading's arrival to its alarm's `raised` event on the broker."""
        self.drain_timeout = drain_timeout
        self._queue = PublishQueue(max_events)
        self._backoff = Backoff(reconnect_initial, reconnect_cap, rng=rng)
        self._commands: asyncio.Queue[Command | CommandError] = asyncio.Queue(100)
        self._go = asyncio.Event()
        self._started = False
        self._closing = asyncio.Event()
        self._drain_until = 0.0
        self._status: dict[str, Any] = {}
        self._status_due = False
        self._tasks: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None

    @classmethod
    def for_site(cls, site: Site, *, client_id: str | None = None, **options: Any) -> Self:
        """The feed of `site` on its `mqtt:` broker; raises `LookupError` without one.

        The client id is the site's (``mqtt.client_id`` or ``firegw-<site>``) plus
        ``-alarms``, so it never takes over the MQTT driver's session.
        """
        spec = site.broker(f"firegw-{site.config.site.id}")
        spec = dataclasses.replace(spec, client_id=client_id or f"{spec.client_id}-alarms")
        return cls(spec, FeedTopics.for_site(site), **options)

    async def __aenter__(self) -> Self:
        self._tasks = asyncio.TaskGroup()
        await self._tasks.__aenter__()
        name = f"alarm-feed {self.topics.root}"
        self._runner = self._tasks.create_task(supervise(name, self._run), name=name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.close()
        finally:
            if self._tasks is not None:  # the runner has ended: this only collects it
                await self._tasks.__aexit__(None, None, None)

    async def close(self) -> None:
        """Publish what is queued (within `drain_timeout`), then `offline`, then disconnect."""
        runner = self._runner
        if runner is None or runner.done():
            return
        self._drain_until = asyncio.get_running_loop().time() + self.drain_timeout
        self._closing.set()
        self._go.set()
        self._queue.wake()
        done, _ = await asyncio.wait({runner}, timeout=self.drain_timeout + 2.0)
        if not done:
            runner.cancel()

    def start(self, alarms: Iterable[Alarm] = ()) -> None:
        """Begin publishing; `alarms` are the alarms that exist now (restored from the store)."""
        if not self._started:
            self._started = True
            self._queue.start_from(alarms)
            self._go.set()

    def publish(self, events: Sequence[AlarmEvent], *, received_at: float | None = None) -> None:
        """Queue events (and so their alarms' states) for publication, most urgent first.

        `received_at` is the monotonic time the readings that caused them arrived; the time
        until each `raised` event is on the broker goes into `latencies`.
        """
        if events:
            self._queue.add_events(events, received_at)

    def reply(self, command: Command | CommandError, result: CommandResult) -> None:
        """Queue the reply to a command; it goes out right after the events the command caused."""
        document = reply_document(command.request_id, command.action, command.alarm, result)
        order = max((event.order for event in result.events), default=LAST)
        self._queue.add_reply(document, order)
        self.stats.refused += not result.ok

    def update_status(self, details: dict[str, Any]) -> None:
        """Publish the gateway's status again with these details (health, backlog, counters).

        It goes out when no alarm, event or reply is waiting, so it never delays one; a
        newer update replaces one not yet sent. On every (re)connect the latest details go
        out with the `online` status.
        """
        self._status = details
        self._status_due = True
        self._queue.wake()

    @property
    def commands(self) -> AsyncIterator[Command | CommandError]:
        """Commands from the command topic in arrival order, parsed (or the `CommandError` of
        one that could not be); answer each with `reply`."""
        return _Commands(self._commands)

    @property
    def dropped(self) -> int:
        """Events dropped because too many waited while the broker was away."""
        return self._queue.dropped

    # The connection task.

    async def _run(self) -> None:
        """Connect, publish and receive until closed; reconnect with backoff after failures."""
        await self._go.wait()
        while not self._closing.is_set():
            await self._connection()
            if self._closing.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self._backoff.next_delay())

    async def _connection(self) -> None:
        """One connection from connecting until it ends: the reconnect loop's boundary."""
        try:
            await self._session()
        except* aiomqtt.MqttError as errors:
            error = errors.exceptions[0]
            reason = (
                describe_failure(error, self.broker, self._library)
                if isinstance(error, aiomqtt.MqttError)
                else f"broker {self.broker.where} unavailable ({error})"
            )
            self.health.failed(reason)
        finally:
            self.health.closed()

    async def _session(self) -> None:
        async with self._client() as client:
            await client.subscribe([(self.topics.commands, QOS), *self._retained_check])
            await self._announce(client)
            self._note_up()
            async with asyncio.TaskGroup() as tasks:
                receiver = tasks.create_task(
                    self._receive(client), name=f"alarm-feed commands {self.topics.root}"
                )
                await self._publish_until_closed(client)
                receiver.cancel()

    def _client(self) -> aiomqtt.Client:
        topics = self.topics
        will = {"state": "offline", "site": topics.site, "reason": "connection lost"}
        return self.broker.client(
            clean_session=True,
            logger=self._library.logger,
            will=aiomqtt.Will(topics.status, encode(will), qos=QOS, retain=True),
            # an alarm is one small packet: send it now, not when Nagle's algorithm says so
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )

    async def _announce(self, client: aiomqtt.Client) -> None:
        """Status `online`, then every alarm's retained state, most urgent first."""
        self._status_due = False
        await self._publish_status(client, "online", **self._status)
        states = []
        for alarm_id in self._queue.resync():
            out_of_date, alarm = self._queue.take_state(alarm_id)
            if out_of_date:
                states.append(self._state_message(alarm_id, alarm))
        await self._send_all(client, states)

    async def _publish_until_closed(self, client: aiomqtt.Client) -> None:
        """Publish queued work as it comes; when closing, drain (for a while), then `offline`."""
        loop = asyncio.get_running_loop()
        while not self._closing.is_set() or (
            not self._queue.empty and loop.time() < self._drain_until
        ):
            if self._queue.empty and self._status_due:  # alarms first, then the status
                self._status_due = False
                await self._publish_status(client, "online", **self._status)
                continue
            if self._queue.empty:
                await self._queue.wait()
                continue
            await self._send_all(client, self._next_messages())
        await self._publish_status(client, "offline", reason="shut down")

    def _next_messages(self) -> list[_Message]:
        """The most urgent waiting work: an event (with its alarm's state), a reply, a state."""
        item = self._queue.pop()
        if item is None:
            return [self._state_message(*self._queue.most_urgent_state())]
        event = item.event
        if event is None:
            return [_Message(self.topics.replies, encode(item.reply or {}), False, item=item)]
        out_of_date, alarm = self._queue.take_state(event.alarm_id)
        states = [self._state_message(event.alarm_id, alarm)] if out_of_date else []
        document = encode(event_document(event, self.topics.site))
        return [*states, _Message(self.topics.events, document, False, item=item)]

    def _state_message(self, alarm_id: str, alarm: Alarm | None) -> _Message:
        """The retained state of one alarm; an empty retained message when it is gone."""
        payload = b""
        if alarm is not None and not is_gone(alarm):
            payload = encode(alarm_document(alarm, self.topics.site))
        return _Message(self.topics.alarm(alarm_id), payload, True, state=(alarm_id, alarm))

    async def _send_all(self, client: aiomqtt.Client, messages: list[_Message]) -> None:
        """Publish in order, each acknowledged (QoS 1) before the next goes.

        One at a time is also the fastest way with aiomqtt 2.5 (concurrent publishes stall),
        and it lets a fire that arrives meanwhile go next. What was not acknowledged when the
        connection failed goes back to the queue, in its place.
        """
        try:
            for message in messages:
                await client.publish(message.topic, message.payload, qos=QOS, retain=message.retain)
                message.done = True
                self._count(message)
        finally:
            for message in messages:
                if not message.done:
                    self._give_back(message)

    def _count(self, message: _Message) -> None:
        item = message.item
        if message.state is not None:
            self.stats.states += 1
        elif item is not None and item.event is not None:
            self.stats.events += 1
            if item.received_at is not None and item.event.kind is EventKind.RAISED:
                self.latencies.append(time.monotonic() - item.received_at)

    def _give_back(self, message: _Message) -> None:
        if message.state is not None:
            self._queue.keep_state(*message.state)
        elif message.item is not None:
            self._queue.push_back(message.item)

    async def _publish_status(self, client: aiomqtt.Client, state: str, **details: Any) -> None:
        document = status_document(state, self.topics.site, time.time_ns(), **details)
        await client.publish(self.topics.status, encode(document), qos=QOS, retain=True)

    @property
    def _retained_check(self) -> list[tuple[str, int]]:
        """Subscribed on connecting, to see the retained alarm messages the broker holds.

        The echo of our own `online` status arrives after all of them, and then the feed
        unsubscribes, so its own publications are not echoed back for the rest of the session.
        """
        return [(self.topics.alarms, QOS), (self.topics.status, QOS)]

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Commands; and, just after connecting, the retained alarm messages on the broker."""
        checking = True
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if message.topic.matches(self.topics.commands):
                await self._on_command(payload)
            elif checking and message.topic.matches(self.topics.status) and not message.retain:
                checking = False
                await client.unsubscribe([topic for topic, _ in self._retained_check])
            elif checking and message.retain and payload:
                alarm_id = self.topics.alarm_id_of(message.topic.value)
                if alarm_id is not None:
                    self._queue.clear_unknown(alarm_id)

    async def _on_command(self, payload: bytes) -> None:
        """Parse and queue a command; one that cannot be parsed is queued as its `CommandError`,
        so that it is audited and answered like every other."""
        self.stats.commands += 1
        try:
            request: Command | CommandError = parse_command(payload)
        except CommandError as error:
            request = error
        await self._commands.put(request)

    def _note_up(self) -> None:
        self._backoff.reset()
        self.health.connected(self.broker.where, f"publishing on {self.topics.root}/")

    @property
    def connected(self) -> bool:
        """Whether the feed's connection to the broker is up right now."""
        return self.health.up


@dataclass(slots=True)
class _Message:
    """One MQTT message on its way out, and what it carries, to give back if it fails."""

    topic: str
    payload: bytes
    retain: bool
    item: Outgoing | None = None
    state: tuple[str, Alarm | None] | None = None
    done: bool = False


class _Commands:
    """The async iterator behind `AlarmFeed.commands`."""

    def __init__(self, queue: asyncio.Queue[Command | CommandError]) -> None:
        self._queue = queue

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Command | CommandError:
        return await self._queue.get()
