"""The alarm service: readings into the rules engine, its events into the store, the feed and
InfluxDB, and people's commands back into the engine.

The flow (docs/architecture.md): hub -> rules -> alarm store (durable) -> alarm feed. Every
event is in the store before it is published, so what a person saw on the feed survives a
restart.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Self

from core import Boundary, Reading
from gateway.alarms.audit import AuditEntry
from gateway.alarms.commands import Command, CommandError
from gateway.alarms.devices import device_infos
from gateway.alarms.eventlog import log_events
from gateway.alarms.feed import LATENCIES_KEPT, AlarmFeed
from gateway.alarms.lines import EventLines
from gateway.alarms.store import AlarmStore
from gateway.config import Site
from gateway.operators import Authority, Identity, Refused
from gateway.outbox import OutboxWriter
from rules import (
    Action,
    Alarm,
    AlarmClass,
    AlarmEvent,
    AlarmLoad,
    AlarmLoadSummary,
    Clock,
    CommandResult,
    RuleEngine,
    RuleSet,
)

log = logging.getLogger(__name__)

TICK_INTERVAL = 0.25
"""Seconds between engine ticks: on-delays, supervision windows and escalation run on it."""


class AlarmService:
    """Runs the site's alarms: a hub subscriber plus a task (`run`) for time and commands.

    Lifecycle: subscribe the service to the hub and start `run()` together. `run()` first
    restores the alarms from the store into the engine and hands them to the feed; readings
    that arrive before that wait for it, so an acknowledged alarm is never raised again. Then
    it ticks the engine every `tick_interval` seconds and serves the feed's commands until
    cancelled. Handling events means: record them in the store (durable), queue them on the
    feed (published fire first), and write each to the outbox as an InfluxDB line.

    The engine is not thread-safe and its events must be stored in the order it made them,
    so readings, ticks and commands take turns under one lock.
    """

    def __init__(
        self,
        site: Site,
        engine: RuleEngine,
        store: AlarmStore,
        feed: AlarmFeed | None = None,
        outbox_writer: OutboxWriter | None = None,
        *,
        authority: Authority | None = None,
        tick_interval: float = TICK_INTERVAL,
        unpolled: Callable[[], float] | None = None,
    ) -> None:
        self.site = site
        self.unpolled = unpolled
        """The gateway's running total of seconds it could not poll (`KeepingUp.unpolled`),
        handed to every tick: not counted against the devices' supervision windows."""
        self.engine = engine
        self.store = store
        self.authority = authority if authority is not None else Authority({})
        """Decides who may do what for the commands from the feed (see gateway.operators)."""
        self.feed = feed
        self.outbox_writer = outbox_writer
        self.tick_interval = tick_interval
        self.store_failures = 0
        """Batches of events that could not be stored at once (they were published all the
        same, and wait in the store's memory until the disk takes them)."""
        self._command_failures = Boundary(log, "applying a command")
        self._lines = EventLines(
            site.config.site.id, {zone.id: str(zone.risk) for zone in site.config.zones}
        )
        self._lock = asyncio.Lock()
        self._restored = asyncio.Event()
        self._no_feed_latencies: deque[float] = deque(maxlen=LATENCIES_KEPT)
        self.load = AlarmLoad(started=engine.clock.monotonic())
        """The alarms announced to people, for the alarm system's KPIs (rules.kpis)."""

    @classmethod
    def for_site(
        cls,
        site: Site,
        store: AlarmStore,
        feed: AlarmFeed | None = None,
        outbox_writer: OutboxWriter | None = None,
        *,
        rules: RuleSet | None = None,
        clock: Clock | None = None,
        authority: Authority | None = None,
        tick_interval: float = TICK_INTERVAL,
        unpolled: Callable[[], float] | None = None,
    ) -> Self:
        """A service with an engine for every device of `site` (default rules unless given)
        and its operators (`Authority.for_site` unless given).

        Raises `RuleConfigError` when `rules` name a zone or device the site does not have,
        `LookupError` when an operator's key cannot be read.
        """
        engine = RuleEngine(device_infos(site), rules, clock)
        authority = authority if authority is not None else Authority.for_site(site)
        return cls(
            site,
            engine,
            store,
            feed,
            outbox_writer,
            authority=authority,
            tick_interval=tick_interval,
            unpolled=unpolled,
        )

    @property
    def latencies(self) -> deque[float]:
        """Seconds from a reading's arrival here to its alarm's `raised` event on the broker.

        One figure per raised alarm (the newest 10,000), measured on the monotonic clock when
        the broker acknowledged the event (QoS 1 PUBACK). Empty without a feed.
        """
        return self.feed.latencies if self.feed is not None else self._no_feed_latencies

    async def __call__(self, readings: Sequence[Reading]) -> None:
        """The hub subscriber: evaluate a batch and handle the events it causes."""
        received_at = time.monotonic()
        if not self._restored.is_set():
            await self._restored.wait()
        async with self._lock:
            events = self.engine.on_readings(readings)
            await self._handle(events, received_at)

    async def run(self) -> None:
        """Restore the stored alarms (once), then tick and serve commands until cancelled."""
        await self._restore()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._tick_forever(), name="alarm-ticks")
            if self.feed is not None:
                tasks.create_task(self._serve_commands(self.feed), name="alarm-commands")

    async def command(
        self, action: Action | str, alarm_id: str, by: str | None = None, **args: object
    ) -> CommandResult:
        """Apply a person's command (from any interface); refused commands change nothing."""
        async with self._lock:
            result = self.engine.command(action, alarm_id, by, **args)
            await self._handle(result.events)
        if not result.ok:
            log.info("command %s on %s by %s refused: %s", action, alarm_id, by, result.reason)
        return result

    async def _restore(self) -> None:
        """The stored alarms into the engine, then the feed started with them.

        A store that cannot be read, or a fresh one (new, emptied, or replaced because it was
        damaged), does not stop the alarms: the engine starts without them, and the feed hands
        the broker's retained alarm states of this site to `_take_back` when it connects.
        """
        if self._restored.is_set():
            return  # a restart of run() by the supervisor: the engine still has its alarms
        unreadable = False
        try:
            alarms = await self.store.load()
        except (sqlite3.Error, OSError) as error:
            unreadable = True
            log.error(
                "alarms: cannot read the alarm store %s (%s); starting without its alarms, "
                "taking back those the broker holds for this site",
                self.store.path,
                error,
            )
            alarms = []
        self.store.keep_current(self._alarms_now)
        lost = unreadable or self.store.needs_broker_alarms
        async with self._lock:
            await self._handle(self.engine.restore(alarms), restored=True)
            if self.feed is not None:
                take_back = self._take_back if lost else None
                self.feed.start(self.engine.alarms.values(), take_back=take_back)
        self._restored.set()
        log.info("alarms: %d restored from %s", len(alarms), self.store.path)

    def _alarms_now(self) -> list[Alarm]:
        """The engine's alarms as they are now (copies), for a store replaced meanwhile."""
        return list(self.engine.alarms.values())

    async def _take_back(self, alarms: Sequence[Alarm]) -> list[Alarm]:
        """The broker's retained alarms of this site, for a store that lost its own: those the
        engine does not have are restored as after a restart (a latched fire stays until a
        person resets it); then the store gets every alarm. Returns the alarms taken back."""
        async with self._lock:
            new = [alarm for alarm in alarms if alarm.id not in self.engine.alarms]
            events = self.engine.restore(new)
            taken = [self.engine.alarms[a.id] for a in new if a.id in self.engine.alarms]
            await self._handle(events, restored=True)
            await self.store.taken_back(self.engine.alarms.values(), len(taken))
        if taken:
            log.warning(
                "alarms: %d taken back from the broker's retained states, which the alarm "
                "store %s did not have: %s",
                len(taken),
                self.store.path,
                ", ".join(alarm.id for alarm in taken),
            )
        return taken

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            async with self._lock:
                unpolled = self.unpolled() if self.unpolled is not None else None
                await self._handle(self.engine.tick(unpolled))

    async def _serve_commands(self, feed: AlarmFeed) -> None:
        """Every command from the feed: identified, authorised, applied, audited, answered."""
        async for request in feed.commands:
            result = CommandResult.refused("the gateway failed to apply the command")
            with self._command_failures:  # one command's bug must not stop the others
                result = await self.authorized_command(request)
            feed.reply(request, result)

    async def authorized_command(self, request: Command | CommandError) -> CommandResult:
        """Apply a command from outside only if its operator is proved and their role allows
        it; audit it either way. A `CommandError` (unparseable) is audited as refused."""
        who: Identity | None = None
        async with self._lock:
            try:
                if isinstance(request, CommandError):
                    raise Refused(request.reason)
                who = self.authority.identify(request.by, request.proof)
                self._permit(who, request)
            except Refused as refusal:
                result = CommandResult.refused(refusal.reason)
            else:
                result = self.engine.command(request.action, request.alarm, who.id, **request.args)
                await self._handle(result.events)
            await self._audit(AuditEntry.of(request, who, result, time.time_ns()))
        return result

    def _permit(self, who: Identity, command: Command) -> None:
        engine, action = self.engine, command.action
        fire = AlarmClass.FIRE in engine.classes_of(command.alarm)
        reshelve = action is Action.SHELVE and engine.shelving_again(command.alarm)
        self.authority.permit(who, action, fire=fire, reshelve=reshelve)

    async def _audit(self, entry: AuditEntry) -> None:
        """Log the command (a refusal as a warning), keep it in the alarm store and write it
        to the history."""
        log.log(logging.INFO if entry.ok else logging.WARNING, "%s", entry)
        await self.store.audit(entry)
        if self.outbox_writer is not None:
            await self.outbox_writer.put(entry.line(self.site.config.site.id))

    def load_summary(self) -> AlarmLoadSummary:
        """The alarm system's KPIs now (announced alarms per 10 minutes, floods, ...)."""
        return self.load.summary(self.engine.alarms.values(), self.engine.clock.monotonic())

    async def _handle(
        self,
        events: Sequence[AlarmEvent],
        received_at: float | None = None,
        *,
        restored: bool = False,
    ) -> None:
        """Store (durable first), then publish, then queue the InfluxDB lines; count the
        alarms announced (not those `restored` from before a restart, announced then)."""
        if not events:
            return
        if not restored:
            self.load.count(events, self.engine.clock.monotonic())
        await self._record(events)
        if self.feed is not None:
            self.feed.publish(events, received_at=received_at)
        log_events(events)  # after the feed has them: a slow log never holds up a fire
        if self.outbox_writer is not None:
            for event in events:
                await self.outbox_writer.put(self._lines(event))

    async def _record(self, events: Sequence[AlarmEvent]) -> None:
        """Store the events. If the disk fails they wait in the store's memory and are written
        when it works again (the store logs it); the alarms go out all the same."""
        if not await self.store.record(events):
            self.store_failures += 1
