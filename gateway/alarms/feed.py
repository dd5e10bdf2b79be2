"""The alarm feed: alarms and events out to MQTT, people's commands in.

One MQTT connection publishes each alarm's retained state, every event and the gateway's
status, and receives commands. The public interface (topics, JSON, QoS, retain) is documented
in gateway/alarms/README.md; keep them in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiomqtt

from core import Backoff, ConnectionHealth, raise_if_stopping, stopping, supervise
from drivers.mqtt import BrokerSpec, LibraryLog, connected, describe_failure
from gateway.alarms.commands import Command, CommandError, parse_command
from gateway.alarms.guard import FeedGuard, OtherGateway
from gateway.alarms.outgoing import LAST, Outgoing, PublishQueue
from gateway.alarms.payloads import (
    alarm_document,
    encode,
    event_document,
    is_gone,
    reply_document,
    status_payload,
)
from gateway.alarms.topics import FeedTopics
from gateway.config import Site
from rules import Alarm, AlarmEvent, CommandResult, EventKind

log = logging.getLogger(__name__)

QOS = 1
RECONNECT_INITIAL = 1.0
RECONNECT_CAP = 30.0
LATENCIES_KEPT = 10_000

TakeBack = Callable[[Sequence[Alarm]], Awaitable[Sequence[Alarm]]]
"""Hands the broker's retained alarms of this site to the alarm service when its store lost
its own; returns those it took back."""


@dataclass
class FeedStats:
    """Counters of the alarm feed, for the gateway's status page."""

    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    events: int = 0
    states: int = 0
    group_summaries: int = 0
    commands: int = 0
    refused: int = 0
    repairs: int = 0
    foreign_alarms: int = 0


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

    The feed watches its own retained topics (the alarms' states and the status) for as long
    as it is connected (gateway/alarms/guard.py): a retained alarm it does not have is cleared
    (on connecting, or whenever someone publishes one), a state or status someone else changed
    is published again, each logged and counted in `stats.repairs`; an alarm that names a
    device or zone this gateway does not have (`ours` says) is left alone, for it may be
    another gateway's. While another gateway publishes as this site, it neither repairs nor
    clears anything and `other_gateway` names it.

    Args:
        broker: where the broker is; `client_id` names the connection (clean session).
        topics: the site's feed topics.
        max_events: most events kept while the broker is away (see `PublishQueue`).
        reconnect_initial, reconnect_cap: reconnect backoff, doubling with jitter.
        drain_timeout: how long closing may take to publish what is queued.
        instance: this run's id in the status (random by default); host: this machine's name.
        ours: whether an alarm id is one this gateway can raise (default: every one).
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
        instance: str | None = None,
        host: str | None = None,
        ours: Callable[[str], bool] | None = None,
    ) -> None:
        self.broker = broker
        self.topics = topics
        self.instance = instance or new_instance()
        self.host = host or socket.gethostname()
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
        self._status = b"{}"
        """The latest status details, encoded (see `status_payload`)."""
        self._status_due = False
        self._tasks: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._guard = FeedGuard(topics.root, self.instance, self.host)
        self._ours = ours or (lambda alarm_id: True)
        self._take_back: TakeBack | None = None
        self._held: set[str] = set()
        self._foreign: set[str] = set()

    @classmethod
    def for_site(cls, site: Site, *, client_id: str | None = None, **options: Any) -> Self:
        """The feed of `site` on its `mqtt:` broker; raises `LookupError` without one.

        The client id is the site's (``mqtt.client_id`` or ``firegw-<site>``) plus
        ``-alarms-<instance>``: it never takes over the MQTT driver's session, and two
        gateways given the same site id or client id never throw each other off the broker
        (the session is clean, so nothing is lost by a new id each run); they see each
        other's status instead, and say so. The alarms this gateway can raise are those of
        its own devices and zones, and its own.
        """
        instance = options.pop("instance", None) or new_instance()
        spec = site.broker(f"firegw-{site.config.site.id}")
        spec = dataclasses.replace(
            spec, client_id=client_id or f"{spec.client_id}-alarms-{instance}"
        )
        config = site.config
        targets = frozenset(
            [device.id for device in config.devices]
            + [zone.id for zone in config.zones]
            + list(site.links)
            + [config.site.gateway_id]
        )

        def ours(alarm_id: str) -> bool:
            return alarm_id.partition(":")[2] in targets

        options.setdefault("ours", ours)
        return cls(spec, FeedTopics.for_site(site), instance=instance, **options)

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

    def start(self, alarms: Iterable[Alarm] = (), *, take_back: TakeBack | None = None) -> None:
        """Begin publishing; `alarms` are the alarms that exist now (restored from the store).

        With `take_back` (the store lost its alarms), the retained alarms of this gateway's
        own devices that the broker holds on the first connection are handed to it instead of
        being cleared, and those it takes are the feed's from then on.
        """
        if not self._started:
            self._started = True
            self._take_back = take_back
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

        It goes out as soon as no fire is next in the queue: after the fires that wait, never
        behind a flood of other events (whose heartbeat would otherwise stop for as long as
        the flood lasts); a newer update replaces one not yet sent, so it costs one message
        per update at most. On every (re)connect the latest details go
        out with the `online` status.
        """
        self._status = encode(details)
        self._status_due = True
        self._queue.wake()
        self._forget_gone_gateway()

    @property
    def other_gateway(self) -> OtherGateway | None:
        """Another gateway publishing as this site right now (see `FeedGuard`), or None."""
        return self._guard.other

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
            if stopping():  # the cancellation, come back as "disconnected": stop
                raise asyncio.CancelledError from errors
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
        async with connected(self._client()) as client:
            self._guard.echoes.new_session()
            await client.subscribe([(self.topics.commands, QOS), *self._own_retained])
            raise_if_stopping()  # a stop that came with the SUBACK (see core)
            await self._announce(client)
            self._note_up()
            async with asyncio.TaskGroup() as tasks:
                receiver = tasks.create_task(
                    self._receive(client), name=f"alarm-feed commands {self.topics.root}"
                )
                await self._publish_until_closed(client)
                receiver.cancel()

    @property
    def _will(self) -> bytes:
        """The last will: the status the broker publishes when the connection dies."""
        will = {
            "state": "offline",
            "site": self.topics.site,
            "reason": "connection lost",
            "instance": self.instance,
            "host": self.host,
        }
        return encode(will)

    def _client(self) -> aiomqtt.Client:
        return self.broker.client(
            clean_session=True,
            logger=self._library.logger,
            will=aiomqtt.Will(self.topics.status, self._will, qos=QOS, retain=True),
            # an alarm is one small packet: send it now, not when Nagle's algorithm says so
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )

    async def _announce(self, client: aiomqtt.Client) -> None:
        """Status `online`, then every alarm's retained state, most urgent first."""
        self._status_due = False
        await self._publish_status(client, "online", self._status)
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
            if self._status_due and not self._queue.fire_next:  # its own turn, after fires
                self._status_due = False
                await self._publish_status(client, "online", self._status)
                continue
            if self._queue.empty:
                await self._queue.wait()
                continue
            await self._send_all(client, self._next_messages())
        await self._publish_status(client, "offline", reason="shut down")

    def _next_messages(self) -> list[_Message]:
        """The most urgent waiting work: an event (with its alarm's state), a reply, a state."""
        item = self._queue.pop()
        if item is None and self._queue.stale:
            return [self._state_message(*self._queue.most_urgent_state())]
        if item is None:
            return [self._group_message(self._queue.most_urgent_group())]
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

    def _group_message(self, group: str) -> _Message:
        """The retained summary of one group; an empty retained message when it is empty."""
        document = self._queue.groups.document(group, self.topics.site, time.time_ns())
        payload = encode(document) if document is not None else b""
        return _Message(self.topics.group(group), payload, True, group=group)

    async def _send_all(self, client: aiomqtt.Client, messages: list[_Message]) -> None:
        """Publish in order, each acknowledged (QoS 1) before the next goes.

        One at a time is also the fastest way with aiomqtt 2.5 (concurrent publishes stall),
        and it lets a fire that arrives meanwhile go next. What was not acknowledged when the
        connection failed goes back to the queue, in its place.
        """
        try:
            for message in messages:
                if message.retain:
                    self._guard.echoes.sent(message.topic, message.payload)
                await client.publish(message.topic, message.payload, qos=QOS, retain=message.retain)
                message.done = True
                self._count(message)
                raise_if_stopping()  # a stop that came with the PUBACK
        finally:
            for message in messages:
                if not message.done:
                    self._give_back(message)

    def _count(self, message: _Message) -> None:
        item = message.item
        if message.group is not None:
            self.stats.group_summaries += 1
        elif message.state is not None:
            self.stats.states += 1
        elif item is not None and item.event is not None:
            self.stats.events += 1
            if item.received_at is not None and item.event.kind is EventKind.RAISED:
                self.latencies.append(time.monotonic() - item.received_at)

    def _give_back(self, message: _Message) -> None:
        if message.group is not None:
            self._queue.stale_groups.add(message.group)
        elif message.state is not None:
            self._queue.keep_state(*message.state)
        elif message.item is not None:
            self._queue.push_back(message.item)

    async def _publish_status(
        self, client: aiomqtt.Client, state: str, details: bytes = b"{}", **more: Any
    ) -> None:
        payload = status_payload(
            state,
            self.topics.site,
            time.time_ns(),
            details,
            instance=self.instance,
            host=self.host,
            client_id=self.broker.client_id,
            **more,
        )
        self._guard.echoes.sent(self.topics.status, payload)
        await client.publish(self.topics.status, payload, qos=QOS, retain=True)
        raise_if_stopping()

    @property
    def _own_retained(self) -> list[tuple[str, int]]:
        """Subscribed for the whole session: the retained alarm states and the status.

        Right after subscribing the broker sends what it retains (the retained flag set);
        the first message without it (the echo of the feed's own `online`, at the latest)
        says they are all in. From then on, every message is an echo or a foreign change.
        """
        return [(self.topics.alarms, QOS), (self.topics.groups, QOS), (self.topics.status, QOS)]

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Commands; and the feed's own retained topics, first as the broker held them on
        connecting, then every change for the rest of the session."""
        found: dict[str, bytes] | None = {}
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            topic = message.topic.value
            if message.topic.matches(self.topics.commands):
                await self._on_command(payload)
            elif found is not None and message.retain and not self._own_status(topic, payload):
                found[topic] = payload
            else:
                if found is not None:
                    await self._on_connected_retained(found)
                    found = None
                self._on_change(topic, payload)

    def _own_status(self, topic: str, payload: bytes) -> bool:
        """The echo of this session's own status ends what the broker retained, even from a
        broker that flags what it forwards as retained (MQTT 5 retain-as-published, bridges)."""
        return topic == self.topics.status and self._guard.echoes.expects(topic, payload)

    async def _on_connected_retained(self, found: dict[str, bytes]) -> None:
        """What the broker retained when the session began: another gateway's status holds
        back clearing; alarms this gateway does not have are taken back (a store that lost
        its own), cleared (its own devices'), or left (another gateway's)."""
        status = _json(found.pop(self.topics.status, b""))
        other = OtherGateway.in_status(status, self.instance)
        if other is not None and _recent_online(status):
            self._guard.suspect(other)  # alive a moment ago: another gateway, or our last run
        unknown: dict[str, bytes] = {}
        for topic, payload in found.items():
            group = self.topics.group_of(topic)
            if group is not None and payload and self._is_ghost(group):
                self._clear_unknown_group(group)
            alarm_id = self.topics.alarm_id_of(topic)
            if alarm_id is None or not payload or self._queue.knows(alarm_id):
                continue
            if self._ours(alarm_id):
                unknown[alarm_id] = payload
            else:
                self._note_foreign(alarm_id)
        if self._take_back is not None:
            taken = await self._take_back(_alarms(unknown))
            self._take_back = None
            self._queue.start_from(taken)
            for alarm in taken:
                unknown.pop(alarm.id, None)
        for alarm_id in unknown:
            self._clear_unknown(alarm_id)

    def _on_change(self, topic: str, payload: bytes) -> None:
        """A live message on a retained topic of the feed: an echo, or someone else's."""
        if self._guard.echoes.is_own(topic, payload):
            return
        self._forget_gone_gateway()
        if topic == self.topics.status:
            self._on_foreign_status(payload)
            return
        group = self.topics.group_of(topic)
        if group is not None:
            self._on_group_change(group, payload)
            return
        alarm_id = self.topics.alarm_id_of(topic)
        if alarm_id is None:
            return
        if alarm_id in self._queue.current:
            if self._repair(topic, f"the state of {alarm_id} was changed by another client"):
                self._queue.republish(alarm_id)
        elif payload and not self._queue.knows(alarm_id):
            if self._ours(alarm_id):
                self._clear_unknown(alarm_id)
            else:
                self._note_foreign(alarm_id)

    def _on_foreign_status(self, payload: bytes) -> None:
        if payload == self._will:  # the broker sends its own last will as it goes down
            self._status_due = True
            self._queue.wake()
            return
        document = _json(payload)
        other = OtherGateway.in_status(document, self.instance)
        if other is not None and isinstance(document, dict):
            if document.get("state") == "online":
                if self._guard.saw_other(other):
                    self._status_due = True  # let it know of this one at once
                    self._queue.wake()
                return
            self._guard.left(other)  # its shutdown, or a last will (perhaps our own old one)
            self._forget_gone_gateway()
        if self._repair(self.topics.status, "the gateway status was changed by another client"):
            self._status_due = True
            self._queue.wake()

    def _repair(self, topic: str, why: str) -> bool:
        repairing = self._guard.repair(topic, why, "published this gateway's own again")
        self.stats.repairs = self._guard.repairs
        return repairing

    def _clear_unknown(self, alarm_id: str) -> None:
        """A retained alarm of this gateway's own devices that it does not have: cleared,
        unless another gateway publishes as this site (then held until it is gone)."""
        topic = self.topics.alarm(alarm_id)
        if self._guard.holding:
            self._held.add(alarm_id)
            return
        why = f"a retained alarm this gateway does not have ({alarm_id}) is on the broker"
        if self._guard.repair(topic, why, "cleared it"):
            self._queue.clear_unknown(alarm_id)
        self.stats.repairs = self._guard.repairs

    def _on_group_change(self, group: str, payload: bytes) -> None:
        """A group summary someone else published: this gateway's own again, or cleared."""
        if group in self._queue.groups.members:
            if self._repair(self.topics.group(group), f"the summary of {group} was changed"):
                self._queue.republish_group(group)
        elif payload and self._is_ghost(group):
            self._clear_unknown_group(group)

    def _is_ghost(self, group: str) -> bool:
        """A group of this gateway's zones or devices (`<class>@<target>`) that it does not
        have (any more); another gateway's groups are left alone, like its alarms."""
        kind, _, target = group.partition("@")
        ours = self._ours(f"{kind}:{target}")  # alarm ids are `<rule>:<target>`
        return ours and group not in self._queue.groups.members

    def _clear_unknown_group(self, group: str) -> None:
        """A retained summary of a group this gateway does not have: cleared, unless another
        gateway publishes as this site (its groups are its own)."""
        if self._guard.holding:
            return
        why = f"a retained summary of a group this gateway does not have ({group})"
        if self._guard.repair(self.topics.group(group), why, "cleared it"):
            self._queue.clear_unknown_group(group)
        self.stats.repairs = self._guard.repairs

    def _note_foreign(self, alarm_id: str) -> None:
        """An alarm of a device or zone this gateway does not have: not its to clear."""
        if alarm_id in self._foreign:
            return
        self._foreign.add(alarm_id)
        self.stats.foreign_alarms = len(self._foreign)
        log.warning(
            "alarm feed: %s names a device or zone this gateway does not have; leaving it on "
            "the feed (another gateway with site id %s may have raised it)",
            self.topics.alarm(alarm_id),
            self.topics.site,
        )

    def _forget_gone_gateway(self) -> None:
        """Once the other gateway is gone, clear what was held back while it published."""
        if not self._guard.gone():
            return
        held, self._held = self._held, set()
        for alarm_id in held:
            if not self._queue.knows(alarm_id):
                self._clear_unknown(alarm_id)

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


def new_instance() -> str:
    """A random id for one run of the gateway, for its status and client id."""
    return uuid.uuid4().hex[:8]


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return None


def _recent_online(status: Any) -> bool:
    """An `online` status from within the last minute (the wall clocks of two boxes agree
    to that much with NTP)."""
    if not isinstance(status, dict) or status.get("state") != "online":
        return False
    at = status.get("at")
    return isinstance(at, int) and abs(time.time_ns() - at) < 60 * 10**9


def _alarms(documents: dict[str, bytes]) -> list[Alarm]:
    """The retained alarm states that read as alarms (the feed's own JSON); others skipped."""
    alarms = []
    for alarm_id, payload in documents.items():
        document = _json(payload)
        try:
            alarm = Alarm.from_dict(document) if isinstance(document, dict) else None
        except (ValueError, TypeError, KeyError) as error:
            log.warning("alarm feed: retained state of %s is not an alarm: %s", alarm_id, error)
            continue
        if alarm is not None and alarm.id == alarm_id:
            alarms.append(alarm)
    return alarms


@dataclass(slots=True)
class _Message:
    """One MQTT message on its way out, and what it carries, to give back if it fails."""

    topic: str
    payload: bytes
    retain: bool
    item: Outgoing | None = None
    state: tuple[str, Alarm | None] | None = None
    group: str | None = None
    done: bool = False


class _Commands:
    """The async iterator behind `AlarmFeed.commands`."""

    def __init__(self, queue: asyncio.Queue[Command | CommandError]) -> None:
        self._queue = queue

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Command | CommandError:
        return await self._queue.get()
