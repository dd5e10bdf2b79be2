"""Simulators, gateway, Mosquitto and InfluxDB together, over real sockets.

The simulated clinic (config/demo.yaml) runs with its Modbus servers and camera fleet; the
gateway polls and subscribes; the readings must arrive in a real InfluxDB with the right
values, tags and observation times.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.config import Site, load_site
from gateway.runtime.gateway import Gateway
from simulators import SimulatedSite
from tests.servers import InfluxServer, MosquittoServer
from tests.sites import clinic_site, eventually

DEVICES = {
    "smoke_detector": ["SD-1F-01", "SD-1F-02", "SD-2F-01", "SD-2F-02", "SD-B1-01"],
    "hydrant_pressure": ["HP-1F-01", "HP-2F-01", "HP-B1-01"],
    "camera": ["CAM-1F-01", "CAM-2F-01", "CAM-B1-01"],
}


@dataclass
class Running:
    site: Site
    simulators: SimulatedSite
    gateway: Gateway
    influx: InfluxServer
    database: str

    def rows(self, query: str) -> list[dict[str, object]]:
        return self.influx.query(self.database, query)


@pytest.fixture
async def running(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    influxdb: InfluxServer,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Running]:
    database = "e2e_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
    influxdb.create_database(database)
    site = load_site(
        clinic_site(tmp_path, mqtt_port=mosquitto.port, influx_url=influxdb.url, database=database)
    )
    async with SimulatedSite(site, seed=7, control_port=0) as simulators:
        gateway = Gateway(site)
        task = asyncio.create_task(gateway.run())
        try:
            yield Running(site, simulators, gateway, influxdb, database)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def series_of(rows: list[dict[str, object]], field: str) -> dict[str, list[dict[str, object]]]:
    by_device: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        if row.get(field) is not None:
            by_device.setdefault(str(row["device"]), []).append(row)
    return by_device


async def test_every_device_reaches_influxdb_with_values_and_times(running: Running) -> None:
    started = time.time_ns()

    def stored(measurement: str, field: str) -> dict[str, list[dict[str, object]]]:
        return series_of(running.rows(f'SELECT * FROM "{measurement}"'), field)

    await eventually(
        lambda: all(
            len(
                stored(
                    kind,
                    "pressure"
                    if kind == "hydrant_pressure"
                    else "status"
                    if kind == "smoke_detector"
                    else "fps",
                ).get(device, [])
            )
            >= 2
            for kind, devices in DEVICES.items()
            for device in devices
        ),
        within=30,
        what="two readings of every device in InfluxDB",
    )

    detectors = stored("smoke_detector", "status")
    assert {row["status"] for rows in detectors.values() for row in rows} == {"normal"}
    for row in detectors["SD-2F-01"]:
        assert (row["site"], row["building"], row["zone"]) == ("demo", "main", "main-2f-ward")
        assert isinstance(row["obscuration"], float)
        assert isinstance(row["temperature"], float)

    for rows in stored("hydrant_pressure", "pressure").values():
        for row in rows:
            current, pressure = float(row["loop_current"]), float(row["pressure"])  # type: ignore[arg-type]
            assert pressure == pytest.approx((current - 4.0) * 1.6 / 16.0, abs=1e-9)
            assert 0.2 < pressure < 0.6

    cameras = stored("camera", "fps")
    assert all(
        row["online"] is True and row["recording"] is True
        for rows in cameras.values()
        for row in rows
    )

    times = [int(row["time"]) for rows in detectors.values() for row in rows]  # type: ignore[call-overload]
    assert all(started - 5e9 < t <= time.time_ns() for t in times)
    assert len(set(times)) == len(times)  # each poll of each detector has its own time


async def test_a_fire_on_the_panel_is_stored_as_a_decoded_status(running: Running) -> None:
    await running.simulators.apply("fire", "SD-1F-02")
    fire = "SELECT status FROM smoke_detector WHERE device = 'SD-1F-02' AND status = 'fire'"
    neighbour = "SELECT status FROM smoke_detector WHERE device = 'SD-1F-01'"
    await eventually(lambda: bool(running.rows(fire)), within=15, what="status fire stored")
    await eventually(lambda: len(running.rows(neighbour)) >= 3, what="the neighbour's readings")
    assert {row["status"] for row in running.rows(neighbour)} == {"normal"}


async def test_garbage_and_modbus_exceptions_are_counted_and_others_keep_flowing(
    running: Running,
) -> None:
    await eventually(lambda: running.gateway.activity.total > 50, what="first readings")
    await running.simulators.apply("garbage", "CAM-1F-01")
    await running.simulators.apply("exception", "HP-2F-01")
    await asyncio.sleep(4)
    mqtt = running.gateway.mqtt_driver
    assert mqtt is not None
    assert mqtt.rejected["CAM-1F-01"] >= 1

    bad = running.rows(
        "SELECT pressure_quality, pressure_detail FROM hydrant_pressure "
        "WHERE device = 'HP-2F-01' AND pressure_quality = 'exception'"
    )
    assert bad
    assert "exception" in str(bad[-1]["pressure_detail"])

    since = time.time_ns()
    await asyncio.sleep(3)
    fresh = running.rows(
        f"SELECT count(pressure) FROM hydrant_pressure WHERE time > {since} GROUP BY device"
    )
    counts = {row["device"]: row["count"] for row in fresh}
    assert counts.get("HP-1F-01", 0) >= 3
    assert counts.get("HP-B1-01", 0) >= 3
    cameras = running.rows(f"SELECT count(fps) FROM camera WHERE time > {since} GROUP BY device")
    assert {row["device"] for row in cameras} >= {"CAM-2F-01", "CAM-B1-01"}


async def mbpoll(port: int, unit: int, first: int, count: int) -> list[int]:
    """Input registers read by mbpoll, an independent Modbus master (0-based `first`).

    It runs beside the event loop, which serves the simulators it reads.
    """
    process = await asyncio.create_subprocess_exec(
        "mbpoll",
        "-m",
        "tcp",
        "-a",
        str(unit),
        "-t",
        "3",
        "-r",
        str(first + 1),
        "-c",
        str(count),
        "-p",
        str(port),
        "-1",
        "127.0.0.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), 20))[0].decode()
    assert process.returncode == 0, output
    return [int(value) for value in re.findall(r"^\[\d+\]:\s+(-?\d+)", output, re.M)]


async def test_an_independent_modbus_master_sees_what_the_gateway_stored(running: Running) -> None:
    await running.simulators.apply("fire", "SD-2F-02")
    await running.simulators.apply("sensor_fault", "HP-2F-01", ma=2.5)
    fire = "SELECT status FROM smoke_detector WHERE device = 'SD-2F-02' AND status = 'fire'"
    fault = (
        "SELECT loop_current, pressure_quality FROM hydrant_pressure "
        "WHERE device = 'HP-2F-01' AND pressure_quality = 'out_of_range'"
    )
    await eventually(
        lambda: bool(running.rows(fire)) and bool(running.rows(fault)),
        what="the fire and the sensor fault stored",
    )
    ports = {endpoint.id: endpoint.port for endpoint in running.site.config.modbus.endpoints}

    status, _, _ = await mbpoll(ports["main-panel"], unit=1, first=12, count=3)
    assert status & 0xFF == 2  # code 2 is "fire" in the panel-detector profile

    [raw_normal, raw_fault] = await mbpoll(ports["main-io"], unit=1, first=0, count=2)
    assert raw_fault == 2500
    assert running.rows(fault)[-1]["loop_current"] == 2.5

    normal = running.rows(
        "SELECT last(loop_current) FROM hydrant_pressure WHERE device = 'HP-1F-01'"
    )
    assert normal[0]["last"] == pytest.approx(raw_normal / 1000, abs=0.02)
