"""The Modbus poller against real pymodbus TCP servers on 127.0.0.1: values, faults, recovery."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml
from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSimulatorContext,
)
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

from drivers.modbus import (
    EndpointPoller,
    ModbusDevice,
    ModbusDriver,
    ModbusEndpointSpec,
    ModbusProfile,
    plan_reads,
)
from drivers.reading import Quality, Reading
from tests.servers import free_port

PROFILES = Path(__file__).resolve().parent.parent / "config" / "profiles"
POLL = 0.1
TIMEOUT = 0.3
INPUT_REGISTERS = 4  # Modbus function code, as pymodbus' datastore wants it
FIRE = 0x0002
EXCEPTION_2 = "exception 2 (illegal data address)"


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


@pytest.fixture
async def modbus_server() -> AsyncIterator[ServerFactory]:
    """Start pymodbus servers on free ports; all are stopped after the test."""
    servers: list[Server] = []

    async def start(units: dict[int, ModbusDeviceContext], port: int | None = None) -> Server:
        server = Server(units, port or free_port())
        servers.append(server)
        return await server.start()

    yield start
    for server in servers:
        await server.stop()


class Collector:
    """A reading sink that remembers every batch and lets a test wait for the one it wants."""

    def __init__(self) -> None:
        self.batches: list[list[Reading]] = []
        self._new = asyncio.Event()

    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.batches.append(list(readings))
        self._new.set()

    async def next(
        self,
        device: str,
        where: Callable[[dict[str, Reading]], bool] = lambda _: True,
        within: float = 10.0,
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


async def test_decodes_detector_and_hydrant(modbus_server: ServerFactory) -> None:
    temperature = (-125) & 0xFFFF  # -12.5 °C as an i16 register
    server = await modbus_server({1: unit([FIRE, 350, temperature]), 2: unit([12000])})
    spec = endpoint(server.port, device("sd-01", 1), device("hp-01", 2, HYDRANT))
    poller, sink = EndpointPoller(spec), Collector()
    async with polling(poller, sink) as task:
        before = time.time_ns()
        detector = await sink.next("sd-01")
        hydrant = await sink.next("hp-01")
        assert {p: (r.value, r.quality, r.unit) for p, r in detector.items()} == {
            "status": ("fire", Quality.GOOD, None),
            "obscuration": (pytest.approx(3.5), Quality.GOOD, "%/m"),
            "temperature": (pytest.approx(-12.5), Quality.GOOD, "°C"),
        }
        assert hydrant["pressure"].value == pytest.approx(0.8)
        assert hydrant["pressure"].unit == "MPa"
        assert hydrant["loop_current"].value == pytest.approx(12.0)
        assert len({r.observed_at for r in detector.values()}) == 1
        assert before <= detector["status"].observed_at <= time.time_ns()

        await server.set_input_registers(1, 0, [0x0000])
        await server.set_input_registers(2, 0, [2100])  # 2.1 mA: a broken transmitter wire
        await sink.next("sd-01", lambda b: b["status"].value == "normal")
        hydrant = await sink.next("hp-01", lambda b: b["loop_current"].value != 12.0)
        assert not task.done()
    assert hydrant["loop_current"].value == pytest.approx(2.1)
    assert (hydrant["pressure"].value, hydrant["pressure"].quality) == (None, Quality.OUT_OF_RANGE)
    assert hydrant["pressure"].detail == "loop current 2.10 mA (NAMUR NE 43 sensor fault)"
    stats = poller.stats
    assert stats.requests == stats.responses == stats.polls  # each device: one merged read
    assert (stats.timeouts, stats.exceptions, stats.connects, stats.reconnects) == (0, 0, 1, 0)


async def test_exception_stays_with_its_device(modbus_server: ServerFactory) -> None:
    server = await modbus_server({1: unit([FIRE, 0, 0, 0, 0])})
    beyond = device("sd-99", 1, address=100)  # no such registers on the panel
    spec = endpoint(server.port, device("sd-01", 1), beyond)
    poller, sink = EndpointPoller(spec), Collector()
    async with polling(poller, sink):
        bad = await sink.next("sd-99")
        assert {(r.value, r.quality, r.detail) for r in bad.values()} == {
            (None, Quality.EXCEPTION, EXCEPTION_2)
        }
        assert set(bad) == {"status", "obscuration", "temperature"}
        for _ in range(15):
            assert all_good(await sink.next("sd-01"))
    assert poller.stats.last_error == {"sd-99": EXCEPTION_2}
    assert "sd-01" not in poller.stats.last_error
    # backing off: the failing device was asked far less often than the healthy one
    assert sink.count("sd-99", Quality.EXCEPTION) * 2 < sink.count("sd-01", Quality.GOOD)


async def test_silent_unit_times_out_without_stalling_others(
    modbus_server: ServerFactory,
) -> None:
    server = await modbus_server({1: unit([FIRE, 0, 0]), 2: silent_unit([0, 0, 0])})
    spec = endpoint(server.port, device("sd-01", 1), device("sd-02", 2))
    poller, sink = EndpointPoller(spec), Collector()
    async with polling(poller, sink):
        silent = await sink.next("sd-02")
        assert {(r.quality, r.detail) for r in silent.values()} == {
            (Quality.TIMEOUT, f"no response within {TIMEOUT:g} s")
        }
        started = time.monotonic()
        for _ in range(10):
            assert all_good(await sink.next("sd-01"))
        elapsed = time.monotonic() - started
    # ten polls at 0.1 s take about 1 s; a timeout on every round would add 3 s
    assert elapsed < 10 * POLL + 4 * TIMEOUT
    assert poller.stats.timeouts >= 1
    assert poller.stats.connects == 1  # the connection stayed up for the healthy unit


async def test_recovers_when_the_server_restarts(modbus_server: ServerFactory) -> None:
    server = await modbus_server({1: unit([FIRE, 0, 0])})
    poller, sink = EndpointPoller(endpoint(server.port, device("sd-01", 1))), Collector()
    async with polling(poller, sink) as task:
        assert all_good(await sink.next("sd-01"))
        await server.stop()
        lost = await sink.next("sd-01", lambda b: not all_good(b))
        assert lost["status"].quality in (Quality.DISCONNECTED, Quality.TIMEOUT)
        assert lost["status"].value is None
        await asyncio.sleep(0.5)
        await server.start()
        back = await sink.next("sd-01", all_good, within=15)
        assert back["status"].value == "fire"
        assert not task.done()
    assert poller.stats.reconnects >= 1


@asynccontextmanager
async def black_hole() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never answers: a hung gateway."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(1024):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def test_hung_endpoint_times_out_and_is_reconnected() -> None:
    async with black_hole() as port:
        poller, sink = EndpointPoller(endpoint(port, device("sd-01", 1))), Collector()
        async with polling(poller, sink):
            hung = await sink.next("sd-01")
            assert {(r.quality, r.detail) for r in hung.values()} == {
                (Quality.TIMEOUT, f"no response within {TIMEOUT:g} s")
            }
            await sink.next("sd-01", lambda _: poller.stats.reconnects >= 1, within=20)
            again = await sink.next("sd-01")
            assert again["status"].quality in (Quality.TIMEOUT, Quality.DISCONNECTED)
    assert poller.stats.reconnects >= 1


async def test_waits_for_a_server_that_is_not_there_yet(modbus_server: ServerFactory) -> None:
    port = free_port()
    poller, sink = EndpointPoller(endpoint(port, device("sd-01", 1))), Collector()
    async with polling(poller, sink):
        down = await sink.next("sd-01")
        assert {(r.quality, r.detail) for r in down.values()} == {
            (Quality.DISCONNECTED, f"not connected to 127.0.0.1:{port}")
        }
        await modbus_server({1: unit([FIRE, 0, 0])}, port)
        assert (await sink.next("sd-01", all_good, within=15))["status"].value == "fire"
    assert poller.stats.connect_failures >= 1


async def test_driver_keeps_healthy_endpoint_polling(modbus_server: ServerFactory) -> None:
    server = await modbus_server({1: unit([FIRE, 0, 0])})
    healthy = endpoint(server.port, device("sd-01", 1), id_="panel-a")
    dead = endpoint(free_port(), device("sd-02", 1), id_="panel-b")
    driver, sink = ModbusDriver([healthy, dead]), Collector()
    async with polling(driver, sink) as task:
        assert (await sink.next("sd-02"))["status"].quality is Quality.DISCONNECTED
        for _ in range(5):
            assert all_good(await sink.next("sd-01"))
        assert not task.done()
    assert set(driver.stats) == {"panel-a", "panel-b"}


async def test_a_failing_sink_does_not_end_polling(modbus_server: ServerFactory) -> None:
    server = await modbus_server({1: unit([FIRE, 0, 0])})
    collector, calls = Collector(), 0

    async def flaky(readings: Sequence[Reading]) -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError("outbox full")
        await collector(readings)

    poller = EndpointPoller(endpoint(server.port, device("sd-01", 1)))
    task = asyncio.create_task(poller.run(flaky))
    try:
        assert all_good(await collector.next("sd-01"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()


def test_plan_merges_each_table_into_one_read() -> None:
    blocks = plan_reads(device("sd-01", 1, address=30))
    assert [(b.function, b.address, b.count) for b in blocks] == [("input_register", 30, 3)]
    hydrant = plan_reads(device("hp-01", 1, HYDRANT, address=7))
    assert [(b.address, b.count, len(b.points)) for b in hydrant] == [(7, 1, 2)]


def test_plan_splits_spans_longer_than_a_request() -> None:
    wide = ModbusProfile.model_validate(
        {
            "id": "wide",
            "protocol": "modbus",
            "kind": "smoke_detector",
            "points": [
                {"name": "first", "function": "holding_register", "address": 0},
                {
                    "name": "last_of_first",
                    "function": "holding_register",
                    "address": 123,
                    "type": "u32",
                },
                {"name": "far", "function": "holding_register", "address": 125},
                {"name": "alarm", "function": "coil", "address": 4, "type": "bool"},
                {"name": "bit_far", "function": "coil", "address": 2010, "type": "bool"},
            ],
        }
    )
    blocks = plan_reads(ModbusDevice(id="w", unit=1, address=0, profile=wide, poll_interval=1))
    assert [(b.function, b.address, b.count) for b in blocks] == [
        ("coil", 4, 1),
        ("coil", 2010, 1),
        ("holding_register", 0, 125),
        ("holding_register", 125, 1),
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda: ModbusDevice(
                id="sd-01", unit=300, address=0, profile=DETECTOR, poll_interval=1
            ),
            "device sd-01: unit 300 is not within 0..255",
            id="unit",
        ),
        pytest.param(
            lambda: ModbusDevice(id="sd-01", unit=1, address=0, profile=DETECTOR, poll_interval=0),
            "device sd-01: poll_interval 0 must be > 0",
            id="interval",
        ),
        pytest.param(
            lambda: ModbusDevice(
                id="sd-01", unit=1, address=65534, profile=DETECTOR, poll_interval=1
            ),
            "device sd-01: address 65534 + profile panel-detector offset 2"
            " is beyond register 65535",
            id="address",
        ),
        pytest.param(
            lambda: ModbusEndpointSpec(id="p", host="h", port=502, timeout=0, devices=()),
            "endpoint p: timeout 0 must be > 0",
            id="timeout",
        ),
        pytest.param(
            lambda: ModbusEndpointSpec(
                id="p", host="h", port=502, timeout=1, devices=(device("a", 1), device("a", 2))
            ),
            "endpoint p: device 'a' is listed twice",
            id="duplicate",
        ),
    ],
)
def test_specs_reject_bad_values(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make()
