"""The gateway's status and its own trouble alarms, with the simulators, Mosquitto and InfluxDB.

- Each device's health (ok, degraded, lost), its errors by kind and its Modbus round trip are
  published with the gateway status and shown by `firegw status CONFIG`.
- The history's health (backlog, write rate, last error per sink) is in the status too, and a
  database outage raises "history not reaching the database" as an alarm on the feed, which
  returns to normal when the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from firegw.alarms import fetch_status
from gateway.alarms import FeedTopics
from gateway.config import Site, load_site
from gateway.runtime.gateway import Gateway
from simulators import SimulatedSite
from tests.conftest import InfluxFactory
from tests.mqtt_watch import Watcher
from tests.servers import InfluxServer, MosquittoServer
from tests.sites import clinic_site, eventually

FAST = {"status_every": 0.3, "delivery_every": 0.3}


@contextlib.asynccontextmanager
async def gateway_running(site: Site) -> AsyncIterator[Gateway]:
    gateway = Gateway(site, **FAST)
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)
        yield gateway
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def status_where(
    site: Site, check: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The retained status, fetched from the broker again and again until `check` holds."""
    found: dict[str, Any] = {}

    async def holds() -> bool:
        found.update(await fetch_status(site, wait=5))
        return check(found)

    await eventually(holds, within=20, what=what)
    return found


def health_of(status: dict[str, Any], device: str) -> dict[str, Any]:
    return dict(status["device_health"][device])


async def test_status_shows_each_devices_health_and_firegw_status_prints_it(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxServer
) -> None:
    influxdb.create_database("status_health")
    site_file = clinic_site(
        tmp_path, mqtt_port=mosquitto.port, influx_url=influxdb.url, database="status_health"
    )
    site = load_site(site_file)
    async with SimulatedSite(site, seed=3) as simulators, gateway_running(site):
        await simulators.apply("silent", "SD-2F-01")  # a detector whose panel never answers
        await simulators.apply("sensor_fault", "HP-1F-01")  # a broken 4-20 mA loop: 2 mA

        def settled(status: dict[str, Any]) -> bool:
            health = status.get("device_health", {})
            return (
                health.get("SD-2F-01", {}).get("state") == "lost"
                and health.get("HP-1F-01", {}).get("state") == "degraded"
                and status["devices"]["ok"] == len(site.devices) - 2
            )

        status = await status_where(site, settled, "one device lost, one degraded, others ok")
        command = [sys.executable, "-m", "firegw", "status", str(site_file)]
        printed = await run(command)
        every_device = await run([*command, "--all"])
    stopped = await run(command, exit_status=1)

    lost, broken = health_of(status, "SD-2F-01"), health_of(status, "HP-1F-01")
    assert lost["errors"].get("timeout", 0) >= 1
    assert lost["last_error"] == "no response within 1 s"
    assert broken["errors"].get("out_of_range", 0) >= 1
    assert broken["last_good"] is not None  # its other points still read well
    neighbour, camera = health_of(status, "SD-1F-01"), health_of(status, "CAM-1F-01")
    assert neighbour["errors"] == {}
    assert 0 < neighbour["round_trip_ms"] < 1000  # answered Modbus requests on loopback
    assert camera["round_trip_ms"] is None  # MQTT has no request to time
    assert status["state"] == "online"
    history = status["history"]
    assert history is not None
    assert [sink["name"] for sink in history["sinks"]] == ["influxdb"]
    assert history["sinks"][0]["last_error"] is None

    print(printed)
    assert printed.startswith(f"gateway of site {site.config.site.id}: online since")
    assert f"devices: {len(site.devices)} (9 ok, 1 degraded, 1 lost)" in printed
    rows = [line.split()[:2] for line in printed.splitlines()]
    assert rows.index(["SD-2F-01", "lost"]) < rows.index(["HP-1F-01", "degraded"])
    assert ["SD-1F-01", "ok"] not in rows  # ok devices only with --all
    assert ["SD-1F-01", "ok"] in [line.split()[:2] for line in every_device.splitlines()]
    assert stopped.startswith(f"gateway of site {site.config.site.id}: offline (shut down)")


async def run(command: list[str], *, exit_status: int = 0) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == exit_status, (out + err).decode()
    return out.decode()


async def test_a_database_outage_raises_history_not_stored_on_the_feed(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb_factory: InfluxFactory
) -> None:
    server = influxdb_factory()
    server.create_database("status_outage")
    site_file = clinic_site(
        tmp_path, mqtt_port=mosquitto.port, influx_url=server.url, database="status_outage"
    )
    site_file.write_text(
        site_file.read_text().replace("outbox.sqlite}", "outbox.sqlite, alarm_age: 2s}")
    )
    site = load_site(site_file)
    itself = site.config.site.gateway_id
    alarm_id = f"history_not_stored:{itself}"
    topics = FeedTopics.for_site(site)
    watcher = Watcher(mosquitto.host, mosquitto.port, topics)
    async with SimulatedSite(site, seed=4), watcher, gateway_running(site) as gateway:
        await eventually(
            lambda: gateway.sinks["influxdb"].written > 50, within=15, what="readings written"
        )
        server.stop()
        raised = await watcher.event(alarm_id, "raised")
        assert raised["alarm"]["class"] == "trouble"
        assert raised["alarm"]["device"] == itself
        assert "history not reaching the database" in raised["alarm"]["message"]
        status = await status_where(
            site,
            lambda s: bool(
                s["history"] and s["history"]["late"] and s["history"]["sinks"][0]["last_error"]
            ),
            "the outage in the status",
        )
        assert status["history"]["sinks"][0]["backlog"] > 0
        assert status["alarms"]["by_class"].get("trouble", 0) >= 1

        server.start()
        await watcher.event(alarm_id, "returned_to_normal")
        status = await status_where(
            site,
            lambda s: s["history"]["late"] is None and s["history"]["sinks"][0]["rate"] > 0,
            "the sink writing again",
        )
        assert status["history"]["sinks"][0]["last_error"] is None
    # The gateway's own health is history too: the outage is in the database.
    rows = server.query("status_outage", 'SELECT "history_stored" FROM "gateway"')
    assert {row["history_stored"] for row in rows} == {True, False}


async def clear_of_a_period_boundary(margin: float = 120.0) -> None:
    """Wait, if need be, until the gateway's start, the flood and its reading fit in one of the
    alarm load's fixed 10-minute periods: they are counted on the monotonic clock, which every
    process on the machine shares; a flood split across two periods is two smaller ones
    (ISA-18.2), and a gateway started in the period before the flood has measured two."""
    left = 600.0 - time.monotonic() % 600.0
    if left < margin:
        await asyncio.sleep(left + 1.0)


async def test_a_flood_shows_in_the_status_in_firegw_status_and_in_influxdb(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxServer
) -> None:
    """Every detector in fire, every camera tampered with, every hydrant's loop broken: more
    than 10 alarms in 10 minutes for the security office, an alarm flood (ISA-18.2)."""
    influxdb.create_database("status_flood")
    site_file = clinic_site(
        tmp_path, mqtt_port=mosquitto.port, influx_url=influxdb.url, database="status_flood"
    )
    site = load_site(site_file)
    faults = {"smoke_detector": "fire", "camera": "tamper", "hydrant_pressure": "sensor_fault"}
    await clear_of_a_period_boundary()
    async with SimulatedSite(site, seed=5) as simulators, gateway_running(site):
        await status_where(site, lambda s: s.get("alarm_system") is not None, "a first status")
        for device in site.config.devices:
            await simulators.apply(faults[device.kind.value], device.id)
        status = await status_where(
            site,
            lambda s: bool(s["alarm_system"]["in_flood"]) and s["alarm_system"]["stale"] == 0,
            "the flood in the status",
        )
        printed = await run([sys.executable, "-m", "firegw", "status", str(site_file)])
        flood_stored = 'SELECT * FROM "gateway" WHERE alarm_flood = true'
        await eventually(
            lambda: bool(influxdb.query("status_flood", flood_stored)),
            within=30,
            what="the flood in the gateway's history",
        )
        rows = influxdb.query("status_flood", flood_stored)
    load = status["alarm_system"]
    assert load["last_10_min"] == load["announced"] == load["peak_10_min"] > 10
    assert load["time_in_flood"] == 1.0  # the one period measured so far
    assert load["priorities"]["critical"] > 0.4  # the fires
    assert "in the last 10 min (FLOOD: more than 10 in 10 min)" in printed, printed
    assert max(row["alarms_last_10_min"] for row in rows) > 10
