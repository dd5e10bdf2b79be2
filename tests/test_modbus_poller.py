"""The Modbus poller against real pymodbus TCP servers on 127.0.0.1: values, faults, recovery."""

from __future__ import annotations

import asyncio
import itertools
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
    ModbusSparseDataBlock,
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
    plan_requests,
)
from drivers.reading import Quality, Reading
from gateway.config import load_site
from gateway.wiring import modbus_endpoints
from simulators import SimulatedSite
from tests.servers import free_port
from tests.sites import CONFIG, eventually, panel_site

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
    wide_device = ModbusDevice(id="w", unit=1, address=0, profile=wide, poll_interval=1)
    blocks = plan_reads(wide_device, merge_gap=125)
    assert [(b.function, b.address, b.count) for b in blocks] == [
        ("coil", 4, 1),
        ("coil", 2010, 1),
        ("holding_register", 0, 125),
        ("holding_register", 125, 1),
    ]
    default = plan_reads(wide_device)  # gaps of more than 8 registers are not read across
    assert [(b.function, b.address, b.count) for b in default] == [
        ("coil", 4, 1),
        ("coil", 2010, 1),
        ("holding_register", 0, 1),
        ("holding_register", 123, 3),
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


# --- merging the reads of every device polled together -------------------------------------


def clustered_profile() -> ModbusProfile:
    """40 registers in three clusters (0-14, 40-54, 100-109): three requests, not 40."""
    addresses = [*range(15), *range(40, 55), *range(100, 110)]
    points = [{"name": f"r{a}", "function": "input_register", "address": a} for a in addresses]
    raw = {"id": "clustered", "protocol": "modbus", "kind": "smoke_detector", "points": points}
    return ModbusProfile.model_validate(raw)


def test_plan_joins_neighbours_within_the_gap_and_the_request_limit() -> None:
    panel = [device(f"sd-{n}", 1, address=4 * n) for n in range(36)]  # the reference panel
    requests = plan_requests(panel)
    assert [(r.address, r.count, len(r.devices)) for r in requests] == [(0, 123, 31),
                                                                        (124, 19, 5)]
    assert [r.count for r in plan_requests(panel, merge_gap=0)] == [3] * 36
    other_unit = [*panel[:2], device("sd-u2", 2)]
    assert [(r.unit, r.address, r.count) for r in plan_requests(other_unit)] == [(1, 0, 7),
                                                                                 (2, 0, 3)]
    around = plan_requests([*panel[:2], *panel[3:6]], avoid=[panel[2]])  # faulty at 8-10
    assert [(r.address, r.count) for r in around] == [(0, 7), (12, 11)]


def test_reference_site_needs_a_few_requests_per_cycle() -> None:
    site = load_site(CONFIG / "hospital.yaml")
    endpoints = modbus_endpoints(site)
    per_device = {e.id: sum(len(plan_reads(d)) for d in e.devices) for e in endpoints}
    merged = {e.id: len(plan_requests(e.devices, e.merge_gap)) for e in endpoints}
    assert sum(per_device.values()) == 155  # 120 detectors and 35 hydrants, one read each
    assert merged["opd-panel"] == 2  # 36 detectors at 0, 4, ... 140: 0-122 and 124-142
    assert max(merged.values()) == 2  # a panel, or an I/O endpoint with two units
    assert sum(merged.values()) == 14


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


async def test_a_clustered_profile_costs_three_requests_per_poll(
    modbus_server: ServerFactory,
) -> None:
    server = await modbus_server({1: unit(list(range(110)))})
    spec = endpoint(server.port, device("wide", 1, clustered_profile()))
    poller = EndpointPoller(spec)
    cost = CycleCost(poller, "wide")
    async with polling(poller, cost):
        batch = await cost.collector.next("wide", all_good)
        await eventually(lambda: len(cost.notes) >= 6, what="six polls")
    assert {r.point: r.value for r in batch.values()}["r104"] == 104
    assert len(batch) == 40
    assert cost.per_cycle() == {3}


async def test_a_gateway_rejecting_reads_across_a_gap_gets_separate_reads(
    modbus_server: ServerFactory,
) -> None:
    registers = {0: FIRE, 1: 0, 2: 0, 6: 0, 7: 0, 8: 0}  # 3-5 unmapped
    server = await modbus_server({1: ModbusDeviceContext(ir=ModbusSparseDataBlock(registers))})
    poller = EndpointPoller(endpoint(server.port, device("sd-01", 1), device("sd-02", 1,
                                                                        address=6)))
    cost = CycleCost(poller, "sd-02")
    async with polling(poller, cost):
        assert (await cost.collector.next("sd-01"))["status"].value == "fire"
        assert all_good(await cost.collector.next("sd-02"))
        await eventually(lambda: len(cost.notes) >= 6, what="six cycles")
    assert poller.stats.exceptions == 1  # the first, merged read only
    assert cost.per_cycle(1) == {2}
    assert cost.collector.count("sd-01", Quality.EXCEPTION) == 0


async def test_a_panel_of_36_detectors_costs_two_requests_per_cycle(tmp_path: Path) -> None:
    site = load_site(panel_site(tmp_path, f"{{id: panel, host: 127.0.0.1, port: {free_port()},"
                                          " timeout: 300ms}", detectors=36))
    [spec] = modbus_endpoints(site)
    poller = EndpointPoller(spec)
    cost = CycleCost(poller, "SD-1-36")
    async with SimulatedSite(site), polling(poller, cost):
        for n in (1, 31, 32, 36):
            assert all_good(await cost.collector.next(f"SD-1-{n}"))
        await eventually(lambda: len(cost.notes) >= 6, what="six cycles")
    assert cost.per_cycle() == {2}
    assert poller.stats.polls >= 36 * 5


@pytest.mark.parametrize(
    ("fault", "quality"), [("exception", Quality.EXCEPTION), ("silent", Quality.TIMEOUT)]
)
async def test_a_faulty_detector_is_read_alone_and_its_neighbours_keep_their_rate(
    tmp_path: Path, fault: str, quality: Quality
) -> None:
    site = load_site(panel_site(tmp_path, f"{{id: panel, host: 127.0.0.1, port: {free_port()},"
                                          " timeout: 300ms}"))
    [spec] = modbus_endpoints(site)
    poller = EndpointPoller(spec)
    cost = CycleCost(poller, "SD-1-6")
    async with SimulatedSite(site) as simulated, polling(poller, cost):
        sink = cost.collector
        await sink.next("SD-1-6", all_good)
        assert cost.per_cycle() <= {1}  # all six detectors in one request
        await simulated.apply(fault, "SD-1-3")
        bad = await sink.next("SD-1-3", lambda b: not all_good(b))
        assert {r.quality for r in bad.values()} == {quality}
        await asyncio.sleep(1.0)  # past its first, short backoffs
        before = {n: sink.count(f"SD-1-{n}", Quality.GOOD) for n in (2, 4)}
        started, notes = time.monotonic(), len(cost.notes)
        await asyncio.sleep(2.0)
        elapsed = time.monotonic() - started
        rates = {n: (sink.count(f"SD-1-{n}", Quality.GOOD) - before[n]) / elapsed
                 for n in (2, 4)}  # fmt: skip
        per_cycle = cost.per_cycle(notes)
        await simulated.apply("clear", "SD-1-3")
        await sink.next("SD-1-3", all_good, within=40)
        back = len(cost.notes)
        await eventually(lambda: len(cost.notes) >= back + 4, what="four cycles")
    assert all(rate >= 0.8 / POLL for rate in rates.values()), rates
    assert sink.count("SD-1-3", quality) <= 8  # backing off, not asked every cycle
    assert per_cycle <= {2, 3}  # 0-7 and 12-23 around it, itself now and then
    assert cost.per_cycle(back + 1) == {1}  # merged again once it answers


async def test_a_hung_endpoint_does_not_slow_the_others(tmp_path: Path) -> None:
    site = load_site(panel_site(tmp_path, f"{{id: panel, host: 127.0.0.1, port: {free_port()},"
                                          " timeout: 300ms}"))
    [healthy] = modbus_endpoints(site)
    async with black_hole() as port, SimulatedSite(site):
        hung = endpoint(port, device("sd-hung", 1), device("sd-hung-2", 2), id_="hung")
        driver, sink = ModbusDriver([healthy, hung]), Collector()
        async with polling(driver, sink):
            await sink.next("sd-hung", lambda b: not all_good(b))
            await sink.next("SD-1-1", all_good)
            before = sink.count("SD-1-1", Quality.GOOD)
            started = time.monotonic()
            await asyncio.sleep(2.0)
            rate = (sink.count("SD-1-1", Quality.GOOD) - before) / (time.monotonic() - started)
    assert rate >= 0.85 / POLL, rate
    assert driver.stats["hung"].timeouts >= 1
    assert driver.stats["panel"].timeouts == 0
