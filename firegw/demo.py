"""`firegw demo`: a simulated hospital, a broker and the gateway, on a bare machine, live.

Each run starts afresh (its alarms and outbox in a temporary folder) unless `keep_state`;
the screen says where the guard console is, how to acknowledge from a shell, and marks
what the scenario injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from firegw.console import Console, hash_password
from firegw.embedded_broker import EmbeddedBroker, free_port
from firegw.screen import render
from firegw.sitecopy import on_loopback
from gateway.config import Operator, Site
from gateway.health import count_states
from gateway.operators import new_key
from gateway.runtime import Gateway
from simulators import SimulatedSite, load_scenario

KEPT_STATE = Path("var/demo")
"""Where `firegw demo --keep-state` keeps its alarms and outbox from one run to the next."""


def relocate(site: Site, *, mqtt_port: int) -> Site:
    """The same site on free loopback ports, so the demo never collides with a running service."""
    return on_loopback(site, mqtt_port=mqtt_port, free_port=free_port)


def with_state_in(site: Site, folder: Path) -> Site:
    """The site with its outbox (and so the alarm store and rejected payloads) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    outbox = site.config.outbox.model_copy(update={"path": folder.resolve() / "outbox.sqlite"})
    config = site.config.model_copy(update={"outbox": outbox})
    return Site(site.path, config, site.profiles, site.warnings)


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
        password = secrets.token_urlsafe(6)
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


def header_lines(
    site: Site,
    *,
    broker: EmbeddedBroker,
    console_port: int,
    logins: list[tuple[str, str, str]],
    key_folder: Path,
    site_file: Path,
) -> list[str]:
    """What the demo is, where its console is, and how to acknowledge from another shell;
    each line fits 80 columns for the reference site."""
    guard = logins[0][0]
    people = ", ".join(f"{role} {who}/{password}" for who, role, password in logins)
    shown = _shown(site_file)
    return [
        f"firegw demo: {site.config.site.name}, {len(site.buildings)} buildings, "
        f"{len(site.devices)} devices",
        f"http://127.0.0.1:{console_port}/ {people}",
        f"acknowledge in that guard console, or in a shell as the {logins[0][1]}:",
        f"  export FIREGW_OPERATOR_KEY_FILE={key_folder / guard}.key",
        f"  firegw ack {shown} ID --operator {guard} --broker :{broker.port}",
    ]


def _shown(path: Path) -> str:
    """A path as short as it can be said from here."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(path)


async def run_demo(
    site: Site,
    *,
    scenario: Path | None,
    duration: float | None,
    use_mosquitto: bool = True,
    out: TextIO = sys.stdout,
    console_port: int = 0,
    keep_state: bool = False,
    site_file: Path | None = None,
) -> None:
    """Run everything until `duration` seconds pass or the task is cancelled.

    The guard console listens on `console_port` of 127.0.0.1 (any free port for 0); the
    screen shows its address, the demo's logins and the commands to acknowledge from a shell.
    """
    with tempfile.TemporaryDirectory(prefix="firegw-demo-") as folder:
        async with EmbeddedBroker(use_mosquitto=use_mosquitto) as broker:
            state = KEPT_STATE if keep_state else Path(folder) / "state"
            demo_site, logins = with_demo_operators(
                with_state_in(relocate(site, mqtt_port=broker.port), state), Path(folder)
            )
            console = Console([demo_site], state=None, client_id=f"firegw-demo-{broker.port}")
            port = console_port or free_port()
            header = header_lines(
                site,
                broker=broker,
                console_port=port,
                logins=logins,
                key_folder=Path(folder),
                site_file=site_file or site.path,
            )
            out.write("\n".join(header) + "\n")
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
    header: list[str],
    out: TextIO,
) -> None:
    steps = load_scenario(scenario, demo_site) if scenario else None
    async with SimulatedSite(demo_site, scenario=steps, control_port=0):
        gateway = Gateway(demo_site, store_only=True)
        timeline = (
            [(step.at, step.device, str(step.fault)) for step in steps.timeline] if steps else []
        )
        screen = Screen(gateway, header, out, timeline)
        async with asyncio.TaskGroup() as tasks:
            serving = tasks.create_task(console.run("127.0.0.1", port))
            running = tasks.create_task(gateway.run())
            showing = tasks.create_task(screen.run())
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(running), duration)
                showing.cancel()
                await screen.draw()
            finally:
                # Ctrl-C (a cancellation) ends here too: the gateway stops before the broker.
                showing.cancel()
                running.cancel()
                serving.cancel()


class Screen:
    """Redraws in place on a terminal; into a log or a pipe, prints a frame every 5 s.

    `timeline` is the scenario as (seconds after start, device, fault): what has been
    applied so far is marked on screen as injected.
    """

    def __init__(
        self,
        gateway: Gateway,
        header: list[str],
        out: TextIO,
        timeline: list[tuple[float, str, str]],
    ) -> None:
        self.gateway, self.header, self.out, self.timeline = gateway, header, out, timeline
        self.live = out.isatty()
        self.started = time.monotonic()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1.0 if self.live else 5.0)
            await self.draw()

    def injected(self) -> dict[str, str]:
        """The faults the scenario has applied by now, by device."""
        elapsed = time.monotonic() - self.started
        return {device: fault for at, device, fault in self.timeline if at <= elapsed}

    async def draw(self) -> None:
        stored = await self.gateway.outbox.backlog() if self.gateway.outbox else 0
        uptime = time.strftime("%M:%S", time.gmtime(time.monotonic() - self.started))
        alarms = list(self.gateway.alarms.engine.alarms.values()) if self.gateway.alarms else []
        health = count_states(self.gateway.health.snapshot())
        first, *rest = self.header
        frame = render(
            self.gateway.activity,
            alarms,
            header=[f"{first}, up {uptime}", *rest],
            stored=stored,
            health=health,
            color=self.live,
            injected=self.injected(),
        )
        self.out.write(("\033[H\033[2J" if self.live else "\n") + frame + "\n")
        self.out.flush()
