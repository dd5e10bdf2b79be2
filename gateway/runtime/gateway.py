"""The running gateway: drivers -> hub -> durable outbox -> InfluxDB, every task supervised."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from contextlib import AsyncExitStack

from core import supervise
from drivers import Driver
from drivers.modbus import ModbusDriver
from drivers.mqtt import MqttDriver
from gateway.alarms import AlarmFeed, AlarmService, AlarmStore
from gateway.config import Site
from gateway.health import (
    NEVER_DROP,
    DeliveryHealth,
    GatewayTroubles,
    HealthBook,
    KeepingUp,
    RejectedPayloads,
    SiteActivity,
    StatusReporter,
)
from gateway.operators import Authority
from gateway.outbox import Outbox, OutboxWriter, ReadingRecorder
from gateway.runtime.hub import Hub
from gateway.runtime.links import LinkWatch
from gateway.runtime.looplag import LoopLag
from gateway.runtime.wiring import make_sink, modbus_endpoints, mqtt_devices
from gateway.sinks import Sink
from gateway.sqlitefile import SqliteFile
from gateway.uplink import Uplink

log = logging.getLogger(__name__)

LOOP_LAG_LIMIT = 5.0
"""Seconds of event-loop lag past which the gateway counts as unwell (its health check fails
and the service manager's watchdog is no longer fed): a fire would wait that long."""


class Gateway:
    """One site's gateway. `run()` works until cancelled; on the way out the outbox is flushed.

    Readings go to the alarm service first (rules, durable alarm store, MQTT alarm feed), so an
    alarm never waits behind history, then to the outbox.

    Each `influxdb:` connection is a sink with its own position in the outbox and its own
    supervised task, so a database that is down keeps its backlog while the others write.
    Without an `influxdb:` connection (or with `store_only`), readings stay in the local outbox,
    which is then the store: that is how the demo runs on a bare machine.

    Storage never stops the alarms: a damaged, emptied or deleted store is set aside and
    replaced by a fresh one, on opening or while running (`GatewayTroubles` checks the files
    every few seconds); a disk that is full or fails costs readings (counted) but never holds
    up the drivers, and alarm events wait in memory until it works again. Each of these is a
    trouble alarm of the gateway itself on the feed.
    """

    def __init__(
        self,
        site: Site,
        *,
        store_only: bool = False,
        status_every: float | None = None,
        delivery_every: float | None = None,
        troubles_every: float | None = None,
    ) -> None:
        self.site = site
        self.hub = Hub()
        self.activity = SiteActivity(site)
        self.store_only = store_only or site.config.influxdb is None
        self.status_every = status_every
        self.delivery_every = delivery_every
        self.troubles_every = troubles_every
        self.started = asyncio.Event()
        self.loop_lag = LoopLag()
        self.status: StatusReporter | None = None
        """The status document's maker, once `run` has assembled the parts."""
        self.outbox: Outbox | None = None
        self.sinks: dict[str, Sink] = (
            {}
            if self.store_only
            else {
                connection.name: make_sink(connection, site.path.parent)
                for connection in site.influx_connections
            }
        )
        self.delivery: DeliveryHealth | None = None
        self.troubles: GatewayTroubles | None = None
        self.writer: OutboxWriter | None = None
        self.alarms: AlarmService | None = None
        self.modbus_driver = ModbusDriver(modbus_endpoints(site))
        # The time the gateway itself cannot poll is never counted as its devices' silence.
        self.keeping_up = KeepingUp(
            site.config.site.gateway_id, self.modbus_driver.queued, self.hub.publish
        )
        devices = mqtt_devices(site)
        client_id = f"firegw-{site.config.site.id}"
        # Payloads the MQTT driver rejects are kept for `firegw rejected` (opened in run()).
        self.rejected_payloads = RejectedPayloads(site.rejected_payloads_path)
        # Every operator's key is read now, so that a missing one stops the start, named.
        self.authority = Authority.for_site(site)
        if not site.config.operators:
            log.warning("the site file names no operators: every command will be refused")
        # The uplink's key and TLS files are read now, so that a bad one stops the start, named.
        self.uplink = Uplink(site, publish=self.hub.publish) if site.config.uplink else None
        self.mqtt_driver = (
            MqttDriver(site.broker(client_id), devices, on_reject=self.rejected_payloads.add)
            if devices
            else None
        )
        mqtt = self.mqtt_driver
        self.health = HealthBook(
            site,
            self.activity,
            round_trips=self._round_trips,
            rejected=(lambda: mqtt.stats.rejected) if mqtt is not None else dict,
        )

    async def run(self) -> None:
        for warning in self.site.warnings:  # what `firegw check` prints: doubtful, not wrong
            log.warning("site config: %s", warning)
        settings = self.site.config.outbox
        names = list(self.sinks)
        async with (
            Outbox(
                self.site.outbox_path,
                sinks=names,
                max_rows=settings.max_rows,
                never_drop=NEVER_DROP,
            ) as outbox,
            AlarmStore(self.site.alarm_store_path) as store,
            self.rejected_payloads,
            AsyncExitStack() as stack,
        ):
            self.outbox = outbox
            self.delivery = DeliveryHealth(
                settings,
                outbox,
                self.sinks,
                device=self.site.config.site.gateway_id,
                publish=self.hub.publish,
                **_every(self.delivery_every),
            )
            writer = self.writer = OutboxWriter(
                outbox, on_commit=self._committed, never_drop=NEVER_DROP
            )
            feed = (
                await stack.enter_async_context(AlarmFeed.for_site(self.site))
                if self.site.config.mqtt is not None
                else None
            )
            if self.uplink is not None:
                await stack.enter_async_context(self.uplink)
            self.troubles = GatewayTroubles(
                device=self.site.config.site.gateway_id,
                outbox=outbox,
                writer=writer,
                alarm_store=store,
                feed=feed,
                mqtt=self.mqtt_driver,
                others=(self.rejected_payloads, *self._uplink_queue()),
                publish=self.hub.publish,
                **_every(self.troubles_every),
            )
            self.alarms = AlarmService.for_site(
                self.site,
                store,
                feed,
                writer,
                rules=self.site.config.rules,
                authority=self.authority,
                unpolled=lambda: self.keeping_up.unpolled,
            )
            self.hub.subscribe("alarms", self.alarms)
            self.hub.subscribe("activity", self.activity)
            self.hub.subscribe("outbox", ReadingRecorder(self.site, writer))
            status = self.status = self._status_reporter(feed)
            _freeze_start_up_objects()
            try:
                await self._run_tasks(writer, status, self.troubles, store)
            finally:
                await writer.close()
                log.info("outbox flushed: %d readings written this run", writer.written)
                if writer.dropped:
                    log.warning(
                        "outbox: %d lines could not be stored this run (the disk failed)",
                        writer.dropped,
                    )

    def _status_reporter(self, feed: AlarmFeed | None) -> StatusReporter:
        options = {"publish_every": self.status_every} if self.status_every else {}
        return StatusReporter(
            lambda: self.hub.published,
            self.health,
            self.delivery,
            self.alarms,
            feed,
            self.modbus_driver,
            self.mqtt_driver,
            troubles=self.troubles,
            publish=self.hub.publish,
            device=self.site.config.site.gateway_id,
            event_loop=self.loop_lag.as_dict,
            **options,
        )

    def problems(self) -> list[str]:
        """What keeps the gateway from doing its job right now (empty when it is well): it
        has not started, or its event loop runs so late that alarms would wait."""
        if not self.started.is_set():
            return ["starting"]
        late = max(self.loop_lag.last, self.loop_lag.stalled_for())
        if late > LOOP_LAG_LIMIT:
            return [f"the event loop runs {late:.1f} s late"]
        return []

    def _round_trips(self) -> dict[str, float]:
        return {
            device: seconds
            for stats in self.modbus_driver.stats.values()
            for device, seconds in stats.round_trip.items()
        }

    async def _run_tasks(
        self,
        writer: OutboxWriter,
        status: StatusReporter,
        troubles: GatewayTroubles,
        store: AlarmStore,
    ) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(supervise("outbox-writer", writer.run))
            if self.alarms is not None:
                tasks.create_task(supervise("alarms", self.alarms.run))
            if self.uplink is not None:
                uplink = functools.partial(self.uplink.run, store)
                tasks.create_task(supervise("uplink", uplink))
            for name, driver in self._drivers():
                run_driver = functools.partial(driver.run, self.hub.publish)
                tasks.create_task(supervise(name, run_driver))
            for name, sink in self.sinks.items():
                tasks.create_task(
                    supervise(f"sink {name}", functools.partial(self._run_sink, sink))
                )
            if self.delivery is not None:
                tasks.create_task(supervise("delivery-health", self.delivery.run))
            tasks.create_task(supervise("keeping-up", self.keeping_up.run))
            links = LinkWatch(
                self.site,
                self.modbus_driver,
                self.mqtt_driver,
                self.hub.publish,
                keeping_up=self.keeping_up,
            )
            tasks.create_task(supervise("links", links.run))
            tasks.create_task(supervise("gateway-troubles", troubles.run))
            tasks.create_task(supervise("status", status.run))
            tasks.create_task(supervise("event-loop-lag", self.loop_lag.run))
            self.started.set()
            log.info(
                "gateway for %s running: %d devices",
                self.site.config.site.name,
                len(self.site.devices),
            )

    def _uplink_queue(self) -> tuple[SqliteFile, ...]:
        """The uplink's queue file, checked like the other stores' (when there is an uplink)."""
        return (self.uplink.queue,) if self.uplink is not None else ()

    def _drivers(self) -> list[tuple[str, Driver]]:
        drivers: list[tuple[str, Driver]] = [("modbus", self.modbus_driver)]
        if self.mqtt_driver is not None:
            drivers.append(("mqtt", self.mqtt_driver))
        return drivers

    def _committed(self) -> None:
        for sink in self.sinks.values():
            sink.wake()
        if self.delivery is not None:
            self.delivery.committed()

    async def _run_sink(self, sink: Sink) -> None:
        """Deliver the outbox to one database (a supervised task: a crash restarts it)."""
        if self.outbox is None:
            return
        async with sink:
            await sink.run(self.outbox)


def _every(seconds: float | None) -> dict[str, float]:
    return {"interval": seconds} if seconds else {}


def _freeze_start_up_objects() -> None:
    """Move everything built at start-up (config, profiles, rule monitors) out of the garbage
    collector's sight. Full collections otherwise walk those objects and stop the event loop:
    the alarm benchmark saw 140 ms stalls at 10x the reference site, over the 100 ms budget.

    Then the collector is on: the `firegw` command starts with it off (`firegw.entry`)."""
    gc.collect()
    gc.freeze()
    gc.enable()
