"""Shared helpers of the Modbus driver tests: pymodbus servers a test can stop and start, a
sink that lets a test wait for the batch it wants, and device and endpoint specs.

The `modbus_server` fixture (in `conftest.py`) starts servers with `modbus_servers`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import yaml
from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSimulatorContext,
)
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

from core.reading import Quality, Reading
from drivers.modbus import ModbusDevice, ModbusDriver, ModbusEndpointSpec, ModbusProfile
from drivers.modbus.poller import EndpointPoller
from tests.servers import free_port
from tests.sites import CONFIG

PROFILES = CONFIG / "profiles"
POLL = 0.1
TIMEOUT = 0.3
INPUT_REGISTERS = 4  # Modbus function code, as pymodbus' datastore wants it
FIRE = 0x0002
EXCEPTION_2 = (
    "exception 2 (illegal data address) reading input registers 100-102 of unit 1: the unit "
    "has no such registers: check the device's unit and address in the site file, and its "
    "profile's registers"
)
"""What the panel says of sd-99's registers (address 100), with what to check."""


def profile(name: str) -> ModbusProfile:
    raw = yaml.safe_load((PROFILES / f"{name}.yaml").read_text(encoding="utf-8"))
    return ModbusProfile.model_validate(raw)


DETECTOR = profile("panel-detector")
HYDRANT = profile("io-hydrant")


def unit(input_registers: list[int]) -> ModbusDeviceContext:
    """A unit whose input registers 0.. hold `input_registers` (pymodbus counts from 1 here)."""
    return ModbusDeviceContext(ir=ModbusSequentialDataBlock(1, input_registers))


def silent_unit(input_registers: list[int]) -> ModbusDeviceContext:
    """A unit that never answers, like a dead detector loop behind a panel's gateway."""

    async def no_answer(*_args: object) -> None:
        raise NoSuchIdException("silent unit")

    context = unit(input_registers)
    context.simdevice.action = no_answer
    return context


class Server:
    """A pymodbus TCP server that a test can stop and start again on the same port."""

    def __init__(self, units: dict[int, ModbusDeviceContext], port: int) -> None:
        devices: dict[int, ModbusDeviceContext | ModbusSimulatorContext] = dict(units)
        self.context = ModbusServerContext(devices=devices)
        self.port = port
        self.server: ModbusTcpServer | None = None

    async def start(self) -> Server:
        self.server = ModbusTcpServer(
            self.context, address=("127.0.0.1", self.port), ignore_missing_devices=True
        )
        await self.server.serve_forever(background=True)
        return self

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.shutdown()

    async def set_input_registers(self, unit_id: int, address: int, values: list[int]) -> None:
        if self.server is None:
            raise RuntimeError("server is not running")
        await self.server.async_setValues(unit_id, INPUT_REGISTERS, address, values)


ServerFactory = Callable[..., Awaitable[Server]]


@asynccontextmanager
async def modbus_servers() -> AsyncIterator[ServerFactory]:
    """A `start(units, port=None)` for pymodbus servers (on free ports unless a port is given);
    all are stopped on exit."""
    servers: list[Server] = []

    async def start(units: dict[int, ModbusDeviceContext], port: int | None = None) -> Server:
        server = Server(units, port or free_port())
        servers.append(server)
        return await server.start()

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()


class Collector:
    """A reading sink that remembers every batch, and when it arrived (monotonic seconds), and
    lets a test wait for the one it wants."""

    def __init__(self) -> None:
        self.batches: list[list[Reading]] = []
        self.arrived: list[float] = []
        self._new = asyncio.Event()

    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.batches.append(list(readings))
        self.arrived.append(time.monotonic())
        self._new.set()

    async def next(
        self,
        device: str,
        where: Callable[[dict[str, Reading]], bool] = lambda _: True,
        within: float = 30.0,
    ) -> dict[str, Reading]:
        """The first batch of `device` from now on that satisfies `where`, by point name."""
        seen = len(self.batches)
        async with asyncio.timeout(within):
            while True:
                for batch in self.batches[seen:]:
                    if batch and batch[0].device == device and where(points(batch)):
                        return points(batch)
                seen = len(self.batches)
                self._new.clear()
                await self._new.wait()

    def count(self, device: str, quality: Quality) -> int:
        return sum(1 for b in self.batches if b[0].device == device and b[0].quality is quality)

    async def good_rates(self, devices: Sequence[str], seconds: float) -> dict[str, float]:
        """Good polls per second of each device over the next `seconds`."""
        before = {d: self.count(d, Quality.GOOD) for d in devices}
        started = time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - started
        return {d: (self.count(d, Quality.GOOD) - before[d]) / elapsed for d in devices}


def points(batch: Sequence[Reading]) -> dict[str, Reading]:
    return {reading.point: reading for reading in batch}


def all_good(batch: dict[str, Reading]) -> bool:
    return all(reading.good for reading in batch.values())


def device(
    id_: str, unit_id: int, prof: ModbusProfile = DETECTOR, address: int = 0
) -> ModbusDevice:
    return ModbusDevice(id=id_, unit=unit_id, address=address, profile=prof, poll_interval=POLL)


def endpoint(port: int, *devices: ModbusDevice, id_: str = "panel") -> ModbusEndpointSpec:
    return ModbusEndpointSpec(id=id_, host="127.0.0.1", port=port, timeout=TIMEOUT, devices=devices)


@asynccontextmanager
async def polling(
    runner: EndpointPoller | ModbusDriver, sink: Collector
) -> AsyncIterator[asyncio.Task[None]]:
    """Run a poller or driver in the background; cancel it (it must stop promptly) after."""
    task = asyncio.create_task(runner.run(sink))
    try:
        yield task
    finally:
        task.cancel()
        async with asyncio.timeout(2):
            await asyncio.gather(task, return_exceptions=True)


Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
"""What a scripted TCP peer does with one connection."""


@asynccontextmanager
async def tcp_peer(serve: Peer) -> AsyncIterator[int]:
    """A TCP server on a free port (yielded) that runs `serve` for each connection and closes
    it after, whether `serve` returns or the client goes away."""

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


def black_hole() -> AbstractAsyncContextManager[int]:
    """A TCP server that accepts connections and never answers: a hung gateway."""

    async def swallow(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        while await reader.read(1024):
            pass

    return tcp_peer(swallow)


class CycleCost:
    """A sink that notes the endpoint's (cycles, requests) whenever `last` is delivered: the
    last device of a cycle, so each note falls between two cycles."""

    def __init__(self, poller: EndpointPoller, last: str) -> None:
        self.collector, self.notes = Collector(), list[tuple[int, int]]()
        self._poller, self._last = poller, last

    async def __call__(self, readings: Sequence[Reading]) -> None:
        if readings[0].device == self._last:
            self.notes.append((self._poller.stats.cycles, self._poller.stats.requests))
        await self.collector(readings)

    def per_cycle(self, since: int = 0) -> set[float]:
        """Requests per cycle between consecutive notes from note `since` on."""
        notes = self.notes[since:]
        return {(r2 - r1) / (c2 - c1) for (c1, r1), (c2, r2) in itertools.pairwise(notes)}
