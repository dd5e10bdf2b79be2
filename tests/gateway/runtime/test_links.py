"""The link watch against a real pymodbus server: a link's `up` is published when it changes
and otherwise only once per refresh, and a link that goes down says so within its window."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from core import Reading
from drivers.modbus import ModbusDriver
from gateway.config import load_site
from gateway.runtime.links import LinkWatch
from gateway.runtime.wiring import modbus_endpoints
from tests.drivers.modbus.helpers import modbus_servers, unit
from tests.servers import free_port
from tests.sites import eventually, panel_site


async def test_a_link_is_published_when_it_changes_and_once_per_refresh(tmp_path: Path) -> None:
    port = free_port()
    site = load_site(
        panel_site(tmp_path, f"{{id: panel, host: 127.0.0.1, port: {port}, timeout: 0.3}}")
    )
    driver = ModbusDriver(modbus_endpoints(site))
    published: list[tuple[float, Reading]] = []

    async def publish(readings: list[Reading]) -> None:
        published.extend((time.monotonic(), reading) for reading in readings)

    async def ignore(_readings: object) -> None:
        return None

    watch = LinkWatch(site, driver, None, publish, interval=0.1, refresh=3.0)
    async with modbus_servers() as start:
        server = await start({1: unit([0] * 24)}, port)
        polling = asyncio.create_task(driver.run(ignore))
        watching = asyncio.create_task(watch.run())
        try:
            await eventually(lambda: any(r.value is True for _, r in published), within=30)
            up_at = next(at for at, r in published if r.value is True)
            await asyncio.sleep(4.0)  # 40 watch rounds: the unchanged link once more at most
            while_up = [(at, r) for at, r in published if at >= up_at]
            assert [r.value for _, r in while_up] in ([True], [True, True])
            if len(while_up) == 2:
                assert while_up[1][0] - up_at >= 3.0

            await server.stop()
            await eventually(lambda: published[-1][1].value is False, within=30)
        finally:
            polling.cancel()
            watching.cancel()
            await asyncio.gather(polling, watching, return_exceptions=True)
    assert {reading.device for _, reading in published} == {"panel"}
