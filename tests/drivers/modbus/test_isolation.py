"""A faulty device or endpoint stays alone: its failure is its own readings', and its
neighbours on the line, and the other endpoints, keep polling at their rate."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from core.reading import Quality
from drivers.modbus import ModbusDriver
from drivers.modbus.poller import EndpointPoller
from gateway.config import load_site
from gateway.runtime.wiring import modbus_endpoints
from simulators import SimulatedSite
from tests.drivers.modbus.helpers import (
    EXCEPTION_2,
    FIRE,
    POLL,
    TIMEOUT,
    Collector,
    CycleCost,
    ServerFactory,
    all_good,
    black_hole,
    device,
    endpoint,
    polling,
    silent_unit,
    unit,
)
from tests.servers import free_port
from tests.sites import eventually, panel_site


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


@pytest.mark.parametrize(
    ("fault", "quality"), [("exception", Quality.EXCEPTION), ("silent", Quality.TIMEOUT)]
)
async def test_a_faulty_detector_is_read_alone_and_its_neighbours_keep_their_rate(
    tmp_path: Path, fault: str, quality: Quality
) -> None:
    site = load_site(
        panel_site(tmp_path, f"{{id: panel, host: 127.0.0.1, port: {free_port()}, timeout: 300ms}}")
    )
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
        rates = {n: (sink.count(f"SD-1-{n}", Quality.GOOD) - before[n]) / elapsed for n in (2, 4)}
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
    site = load_site(
        panel_site(tmp_path, f"{{id: panel, host: 127.0.0.1, port: {free_port()}, timeout: 300ms}}")
    )
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
