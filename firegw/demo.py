"""`firegw demo`: a simulated hospital, a broker and the gateway, on a bare machine, live."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import TextIO

from firegw.embedded_broker import EmbeddedBroker, free_port
from firegw.screen import render
from gateway.config import Site
from gateway.health import count_states
from gateway.runtime import Gateway
from simulators import SimulatedSite, load_scenario


def relocate(site: Site, *, mqtt_port: int) -> Site:
    """The same site on free loopback ports, so the demo never collides with a running service."""
    config = site.config
    endpoints = tuple(
        endpoint.model_copy(update={"host": "127.0.0.1", "port": free_port()})
        if endpoint.serial is None
        else endpoint  # a serial line stays where it is
        for endpoint in config.modbus.endpoints
    )
    mqtt = (
        config.mqtt.model_copy(
            update={"host": "127.0.0.1", "port": mqtt_port, "username": None, "password": None}
        )
        if config.mqtt
        else None
    )
    relocated = config.model_copy(
        update={
            "modbus": config.modbus.model_copy(update={"endpoints": endpoints}),
            "mqtt": mqtt,
            "influxdb": None,
        }
    )
    return Site(site.path, relocated, site.profiles)


async def run_demo(
    site: Site,
    *,
    scenario: Path | None,
    duration: float | None,
    use_mosquitto: bool = True,
    out: TextIO = sys.stdout,
) -> None:
    """Run everything until `duration` seconds pass or the task is cancelled."""
    async with EmbeddedBroker(use_mosquitto=use_mosquitto) as broker:
        demo_site = relocate(site, mqtt_port=broker.port)
        steps = load_scenario(scenario, demo_site) if scenario else None
        async with SimulatedSite(demo_site, scenario=steps, control_port=0):
            gateway = Gateway(demo_site, store_only=True)
            header = (
                f"firegw demo: {site.config.site.name}, {len(site.buildings)} buildings, "
                f"{len(site.zones)} zones, {len(site.devices)} devices; "
                f"broker {broker.name} on port {broker.port}"
            )
            screen = Screen(gateway, header, out)
            async with asyncio.TaskGroup() as tasks:
                running = tasks.create_task(gateway.run())
                showing = tasks.create_task(screen.run())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(running), duration)
                showing.cancel()
                await screen.draw()
                running.cancel()


class Screen:
    """Redraws in place on a terminal; into a log or a pipe, prints a frame every 5 s."""

    def __init__(self, gateway: Gateway, header: str, out: TextIO) -> None:
        self.gateway, self.header, self.out = gateway, header, out
        self.live = out.isatty()
        self.started = time.monotonic()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1.0 if self.live else 5.0)
            await self.draw()

    async def draw(self) -> None:
        stored = await self.gateway.outbox.backlog() if self.gateway.outbox else 0
        uptime = time.strftime("%M:%S", time.gmtime(time.monotonic() - self.started))
        alarms = list(self.gateway.alarms.engine.alarms.values()) if self.gateway.alarms else []
        health = count_states(self.gateway.health.snapshot())
        frame = render(
            self.gateway.activity,
            alarms,
            header=f"{self.header}; up {uptime}",
            stored=stored,
            health=health,
            color=self.live,
        )
        self.out.write(("\033[H\033[2J" if self.live else "\n") + frame + "\n")
        self.out.flush()
