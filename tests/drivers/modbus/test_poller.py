"""The Modbus poller's readings against a real pymodbus TCP server: decoded values and units,
one `observed_at` per poll, and a sink that fails without ending polling.

The other poller tests, by concept: `test_modbus_planning` (which requests a cycle costs),
`test_modbus_isolation` (a faulty device or endpoint stays alone), `test_modbus_connection`
(connecting, losing and remaking the connection), `test_field_failures` (failures seen in the
field), `test_modbus_rtu` (RS-485).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from core.reading import Quality, Reading
from drivers.modbus.poller import EndpointPoller
from tests.drivers.modbus.helpers import (
    FIRE,
    HYDRANT,
    Collector,
    ServerFactory,
    all_good,
    device,
    endpoint,
    polling,
    unit,
)


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
