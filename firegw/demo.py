"""`firegw demo`: a simulated hospital, a broker and the gateway, on a bare machine, live."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from firegw.console import Console, hash_password
from firegw.embedded_broker import EmbeddedBroker, free_port
from firegw.screen import render
from gateway.config import Operator, Site
from gateway.health import count_states
from gateway.operators import new_key
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


DEMO_OPERATORS = (
    ("wang.fang", "Wang Fang 王芳", "guard"),
    ("li.na", "Li Na 李娜", "supervisor"),
)
"""The demo's people: a guard and a supervisor, with keys and passwords made at start."""


def with_demo_operators(site: Site, folder: Path) -> tuple[Site, list[tuple[str, str, str]]]:
    """The site with the demo's operators added (a new key and password each, in `folder`),
    and their logins as (operator, role, password) for the screen."""
    operators, logins = list(site.config.operators), []
    for operator_id, name, role in DEMO_OPERATORS:
        password = secrets.token_urlsafe(9)
        key, hashed = folder / f"{operator_id}.key", folder / f"{operator_id}.password"
        key.write_text(new_key() + "\n")
        hashed.write_text(hash_password(password) + "\n")
        for path in (key, hashed):
            path.chmod(0o600)
        operators.append(
            Operator.model_validate(
                {
                    "id": operator_id,
                    "name": name,
                    "role": role,
                    "key": {"file": str(key)},
                    "password": {"file": str(hashed)},
                }
            )
        )
        logins.append((operator_id, role, password))
    config = site.config.model_copy(update={"operators": tuple(operators)})
    return Site(site.path, config, site.profiles, site.warnings), logins


async def run_demo(
    site: Site,
    *,
    scenario: Path | None,
    duration: float | None,
    use_mosquitto: bool = True,
    out: TextIO = sys.stdout,
    console_port: int = 0,
) -> None:
    """Run everything until `duration` seconds pass or the task is cancelled.

    The guard console listens on `console_port` of 127.0.0.1 (any free port for 0); the
    screen shows its address and the demo's logins.
    """
    with tempfile.TemporaryDirectory(prefix="firegw-demo-") as folder:
        async with EmbeddedBroker(use_mosquitto=use_mosquitto) as broker:
            demo_site, logins = with_demo_operators(
                relocate(site, mqtt_port=broker.port), Path(folder)
            )
            console = Console([demo_site], state=None, client_id=f"firegw-demo-{broker.port}")
            port = console_port or free_port()
            people = ", ".join(f"{who} / {password} ({role})" for who, role, password in logins)
            header = (
                f"firegw demo: {site.config.site.name}, {len(site.buildings)} buildings, "
                f"{len(site.zones)} zones, {len(site.devices)} devices; "
                f"broker {broker.name} on port {broker.port}\n"
                f"guard console: http://127.0.0.1:{port}/  log in as {people}"
            )
            out.write(header + "\n")
            out.flush()
            await _play(
                demo_site,
                scenario=scenario,
                duration=duration,
                console=console,
                port=port,
                header=header,
                out=out,
            )


async def _play(
    demo_site: Site,
    *,
    scenario: Path | None,
    duration: float | None,
    console: Console,
    port: int,
    header: str,
    out: TextIO,
) -> None:
    steps = load_scenario(scenario, demo_site) if scenario else None
    async with SimulatedSite(demo_site, scenario=steps, control_port=0):
        gateway = Gateway(demo_site, store_only=True)
        screen = Screen(gateway, header, out)
        async with asyncio.TaskGroup() as tasks:
            serving = tasks.create_task(console.run("127.0.0.1", port))
            running = tasks.create_task(gateway.run())
            showing = tasks.create_task(screen.run())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(running), duration)
            showing.cancel()
            await screen.draw()
            running.cancel()
            serving.cancel()


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
