"""Shared fixtures: real Mosquitto, InfluxDB and VictoriaMetrics servers, per session or test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import InfluxServer, MosquittoServer, SerialPair, VictoriaMetricsServer

MosquittoFactory = Callable[[], MosquittoServer]
InfluxFactory = Callable[[], InfluxServer]
VictoriaFactory = Callable[[], VictoriaMetricsServer]


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """One broker for the whole session, on a free port; tests must use their own topics."""
    with MosquittoServer(tmp_path_factory.mktemp("mosquitto")) as server:
        yield server.start()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """One InfluxDB 1.x for the whole session; tests must use their own databases."""
    with InfluxServer(tmp_path_factory.mktemp("influxdb")) as server:
        yield server.start()


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[MosquittoFactory]:
    """Start extra brokers a test may stop and restart; all are stopped after the test."""
    servers: list[MosquittoServer] = []

    def start() -> MosquittoServer:
        server = MosquittoServer(tmp_path / f"mosquitto-{len(servers)}")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def influxdb_factory(tmp_path: Path) -> Iterator[InfluxFactory]:
    """Start extra InfluxDB servers a test may stop and restart; all stop after the test."""
    servers: list[InfluxServer] = []

    def start() -> InfluxServer:
        server = InfluxServer(tmp_path / f"influxdb-{len(servers)}")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def victoria_metrics_factory(tmp_path: Path) -> Iterator[VictoriaFactory]:
    """Start VictoriaMetrics servers (v2 write API peers) a test may stop and restart."""
    servers: list[VictoriaMetricsServer] = []

    def start() -> VictoriaMetricsServer:
        server = VictoriaMetricsServer(tmp_path / f"victoria-metrics-{len(servers)}")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def serial_pair(tmp_path: Path) -> Iterator[SerialPair]:
    """A virtual serial pair (socat): the gateway opens one end, the simulator the other."""
    with SerialPair(tmp_path / "serial") as pair:
        yield pair.start()
