"""An endpoint's connection stops when it is told to, whenever the stop comes.

pymodbus connects with `asyncio.wait_for`, which on Python 3.11 returns the connection and
drops the cancellation when the two come in the same turn of the event loop. The connection
task then waited for the connection to drop, and held up the gateway's stop (SIGTERM) for as
long as the endpoint stayed up: for ever, with a healthy panel.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest
from pymodbus.client.base import ModbusBaseClient

from drivers.modbus import link as link_module
from drivers.modbus.link import EndpointStats, Link
from drivers.modbus.spec import ModbusEndpointSpec
from tests.drivers.modbus.helpers import FIRE, ServerFactory, device, endpoint, unit


async def test_a_stop_that_comes_as_the_connection_is_made_ends_the_link(
    modbus_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await modbus_server({1: unit([FIRE, 0, 0])})
    loop = asyncio.get_running_loop()
    running: list[asyncio.Task[None]] = []
    make_client = link_module.make_client

    def stopped_as_it_connects(
        spec: ModbusEndpointSpec, on_connect: Callable[[bool], None]
    ) -> ModbusBaseClient:
        def connection_changed(connected: bool) -> None:
            on_connect(connected)
            if connected:  # the stop arrives in the very turn the connection is made
                loop.call_soon(running[0].cancel)

        return make_client(spec, connection_changed)

    monkeypatch.setattr(link_module, "make_client", stopped_as_it_connects)
    link = Link(endpoint(server.port, device("sd-01", 1)), EndpointStats(), random.Random(1))
    running.append(asyncio.create_task(link.run()))
    try:
        done, _ = await asyncio.wait(running, timeout=10)
    finally:
        running[0].cancel()  # a second cancellation, so that a failed run ends too
    assert done, "the link went on waiting on its connection after it was cancelled"
    assert running[0].cancelled()
    assert link.stats.connects == 0  # it stopped at once: not even counted as connected
