"""Shared fixtures: real Mosquitto and InfluxDB servers, started once per session or per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import InfluxServer, MosquittoServer

MosquittoFactory = Callable[[], MosquittoServer]
InfluxFactory = Callable[[], InfluxServer]


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
