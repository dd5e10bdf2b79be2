"""The real pieces a measured gateway runs against: Mosquitto, InfluxDB 1.x and the simulators.

`open_testbed()` starts the broker and the database (each a process of its own, so that their CPU
can be measured from outside) and the site's simulators in this process, once; each run of the
gateway then gets a fresh outbox and a fresh InfluxDB database of its own (`Testbed.fresh`), so
that one run's backlog or alarms never carry into the next.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.processes import start_simulators
from bench.servers import InfluxDB, Mosquitto
from bench.site import Influx, variant, write_site
from gateway.config import Site
from simulators import SimulatedSite

DATABASE = "firegw_bench"


@dataclass(frozen=True)
class RunFiles:
    """One run's site file, outbox file and InfluxDB database."""

    site_file: Path
    outbox: Path
    database: str
    log: Path


@dataclass(frozen=True)
class Testbed:
    """The running broker, database and simulators, and the site file they were made from."""

    folder: Path
    broker: Mosquitto
    influx: InfluxDB
    site_file: Path
    site: Site
    simulated: SimulatedSite

    async def fresh(self, name: str) -> RunFiles:
        """Files for run `name`: the site with a new outbox and a new, empty database."""
        database = f"{DATABASE}_{name}".replace("-", "_")
        await self.influx.create_database(database)
        outbox = self.folder / f"{name}-outbox.sqlite"
        site_file = variant(self.site_file, name, outbox=outbox, database=database)
        return RunFiles(site_file, outbox, database, self.folder / f"{name}-gateway.log")

    def describe(self) -> str:
        site = self.site
        return (
            f"{site.config.site.id}: {len(site.devices)} devices, "
            f"{len(site.config.modbus.endpoints)} Modbus endpoints, poll "
            f"{site.config.defaults.poll_interval:g} s; mosquitto on port "
            f"{self.broker.port}, influxd on port {self.influx.port}"
        )


@contextlib.asynccontextmanager
async def open_testbed(
    folder: Path, source: Path, *, scale: int = 1, poll: float = 1.0
) -> AsyncIterator[Testbed]:
    """Broker, database and simulators of `source` (times `scale`), stopped on exit."""
    async with AsyncExitStack() as stack:
        broker = await stack.enter_async_context(Mosquitto())
        influx = await stack.enter_async_context(InfluxDB())
        await influx.create_database(DATABASE)
        site_file, site, simulated = await start_simulators(
            stack,
            lambda: write_site(
                source,
                folder,
                mqtt_port=broker.port,
                poll=poll,
                scale=scale,
                influx=Influx(influx.url, DATABASE),
            ),
            control_port=None,
        )
        yield Testbed(folder, broker, influx, site_file, site, simulated)
