"""Fixtures of the Modbus driver's tests: pymodbus servers and virtual serial pairs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.drivers.modbus.helpers import ServerFactory, modbus_servers
from tests.servers import SerialPair


@pytest.fixture
def serial_pair(tmp_path: Path) -> Iterator[SerialPair]:
    """A virtual serial pair (socat): the gateway opens one end, the simulator the other."""
    with SerialPair(tmp_path / "serial") as pair:
        yield pair.start()


@pytest.fixture
async def modbus_server() -> AsyncIterator[ServerFactory]:
    """Start pymodbus TCP servers (`await start(units, port=None)`); all stop after the test."""
    async with modbus_servers() as start:
        yield start
