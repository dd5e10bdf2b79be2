"""A whole simulated site, built from the same config as the gateway: the one entry point.

`SimulatedSite` starts a Modbus TCP or RTU server per endpoint, the camera fleet (when the site has
MQTT devices), the control server and the scenario player, and stops them all on exit with
every port released. Tests use it in-process; `firegw simulate` runs `run_simulators`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self, TextIO

from gateway.config import ModbusSource, MqttSource, Site
from simulators.cameras import CameraFleet
from simulators.control import ControlServer
from simulators.devices import DeviceFleet
from simulators.modbus_server import ModbusEndpointServer, modbus_servers
from simulators.scenario import Scenario, play

logger = logging.getLogger(__name__)

DEFAULT_CONTROL_PORT = 15100
TICK = 0.2  # seconds between physics steps: smooth enough for ramps, cheap for 200 devices


class SimulatedSite:
    """Every simulated device of a site, served over real protocols while the context is open.

    Args:
        site: the loaded site config; Modbus servers bind to its endpoints' hosts and ports.
        seed: seeds every device's noise, so a run is reproducible.
        mqtt_host, mqtt_port: the broker for the camera fleet, instead of the site's `mqtt:`.
        control_port: where the JSON-lines control server listens (0: any free port);
            None for no control server.
        scenario: steps to play, timed from entering the context.
        serial_ports: endpoint id to the serial device its RTU server opens, instead of the
            endpoint's own `serial` path (which the gateway opens): the two ends of a
            virtual serial pair, or two ports of a null-modem cable.
    """

    def __init__(
        self,
        site: Site,
        *,
        seed: int = 0,
        mqtt_host: str | None = None,
        mqtt_port: int | None = None,
        control_port: int | None = None,
        scenario: Scenario | None = None,
        serial_ports: Mapping[str, str] | None = None,
    ) -> None:
        self.site = site
        self.fleet = DeviceFleet(site, seed)
        self.modbus: list[ModbusEndpointServer] = modbus_servers(site, self.fleet, serial_ports)
        has_mqtt = any(isinstance(d.source, MqttSource) for d in site.config.devices)
        self.cameras = (
            CameraFleet(site, self.fleet, host=mqtt_host, port=mqtt_port) if has_mqtt else None
        )
        self.scenario = scenario
        self.control = None if control_port is None else ControlServer(self, port=control_port)
        self._stack: AsyncExitStack | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def control_port(self) -> int | None:
        """The control server's actual port (also when 0 was asked for), or None."""
        return None if self.control is None else self.control.port

    async def apply(self, fault: str, device: str, **args: Any) -> None:
        """Apply a fault now; the next Modbus read sees it. Raises `FaultError` if it cannot.

        Async so that callers need not change if applying ever has to wait for I/O.
        """
        self.fleet.apply(fault, device, **args)
        for server in self.modbus:
            server.refresh()

    def state(self, device: str) -> dict[str, Any]:
        """A device's current values and faults; raises `FaultError` for an unknown id."""
        return self.fleet[device].snapshot()

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            for server in self.modbus:
                await stack.enter_async_context(server)
            if self.control is not None:
                await stack.enter_async_context(self.control)
            group = await stack.enter_async_context(asyncio.TaskGroup())
            stack.callback(self._cancel_tasks)  # runs first on exit, so the group can end
            self._start(group)
            self._stack = stack.pop_all()
        logger.info(
            "simulating %s: %d devices on %d Modbus endpoints, %d over MQTT",
            self.site.config.site.id,
            len(self.fleet.devices),
            len(self.modbus),
            len(self.cameras.publishers) if self.cameras else 0,
        )
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(kind, error, trace)

    def _start(self, group: asyncio.TaskGroup) -> None:
        self._tasks = [group.create_task(self._physics(), name="simulator physics")]
        for server in self.modbus:
            name = f"modbus endpoint {server.endpoint.id}"
            self._tasks.append(group.create_task(server.run(), name=name))
        if self.cameras is not None:
            self._tasks.append(group.create_task(self.cameras.run(), name="camera fleet"))
        if self.scenario is not None:
            player = play(self.scenario, self.apply)
            self._tasks.append(group.create_task(player, name="scenario player"))

    def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _physics(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            self.fleet.step(now - last)
            last = now

    def describe(self) -> list[str]:
        """Where everything listens, one line each, for people starting the simulators."""
        lines = [
            f"Modbus {'RTU' if s.serial_port else 'TCP'} {s.endpoint.id}: {s.where}, "
            f"units {sorted(s.units)}, {sum(len(u.members) for u in s.units.values())} "
            f"devices"
            for s in self.modbus
        ]
        if self.cameras is not None:
            lines.append(
                f"MQTT: {len(self.cameras.publishers)} devices publishing to "
                f"{self.cameras.host}:{self.cameras.port}"
            )
        if self.control is not None:
            lines.append(
                f"control: 127.0.0.1:{self.control_port} (JSON lines, e.g. "
                '{"fault": "fire", "device": "ID"})'
            )
        return lines


def serial_ports_for(site: Site, mapping: Mapping[str, str]) -> dict[str, str]:
    """Check the serial device each RTU endpoint's simulator serves on; returns `mapping`.

    The gateway opens the endpoint's `serial` path, so the simulator needs the other end of
    the line. Raises ValueError naming the endpoint for one left without a port, and for an
    entry that names no serial endpoint of the site.
    """
    endpoints = {endpoint.id: endpoint for endpoint in site.config.modbus.endpoints}
    for endpoint_id in mapping:
        endpoint = endpoints.get(endpoint_id)
        if endpoint is None:
            raise ValueError(
                f"--serial {endpoint_id}: the site has no Modbus endpoint {endpoint_id!r}"
            )
        if endpoint.serial is None:
            raise ValueError(
                f"--serial {endpoint_id}: endpoint {endpoint_id!r} is Modbus TCP "
                f"({endpoint.host}:{endpoint.port}), not a serial line"
            )
    used = {d.source.endpoint for d in site.config.devices if isinstance(d.source, ModbusSource)}
    for endpoint in site.config.modbus.endpoints:
        if endpoint.serial is not None and endpoint.id in used and endpoint.id not in mapping:
            raise ValueError(
                f"endpoint {endpoint.id!r} is on the serial line {endpoint.serial}, which the "
                f"gateway opens: give the simulator the other end of the line with --serial "
                f"{endpoint.id}=PATH (a second adapter, or a socat pty pair)"
            )
    return dict(mapping)


async def run_simulators(
    site: Site,
    *,
    scenario: Scenario | None = None,
    seed: int = 0,
    control_port: int = DEFAULT_CONTROL_PORT,
    mqtt_host: str | None = None,
    mqtt_port: int | None = None,
    out: TextIO | None = None,
    serial_ports: Mapping[str, str] | None = None,
) -> None:
    """Run the site's simulators until cancelled, printing where they listen to `out`.

    `serial_ports` maps each RTU endpoint's id to the serial device its simulator serves on
    (see `serial_ports_for`).
    """
    async with SimulatedSite(
        site,
        seed=seed,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        control_port=control_port,
        scenario=scenario,
        serial_ports=serial_ports,
    ) as simulated:
        stream = out or sys.stdout
        for line in simulated.describe():
            print(line, file=stream, flush=True)
        await asyncio.Future()  # until cancelled
