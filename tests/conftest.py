"""Shared fixtures: real Mosquitto, InfluxDB and VictoriaMetrics servers, per session or test."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, Self, TypeVar

import pytest

from firegw.logs import HANDLER_NAME
from tests.servers import InfluxServer, MosquittoServer, VictoriaMetricsServer

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


class _Started(Protocol):
    def start(self) -> Self: ...
    def stop(self) -> None: ...


S = TypeVar("S", bound=_Started)


@contextmanager
def _servers(kind: Callable[[Path], S], folder: Path) -> Iterator[Callable[[], S]]:
    """A `start()` for extra servers of one kind, each in its own folder; all stopped at the end."""
    servers: list[S] = []

    def start() -> S:
        server = kind(folder / f"{folder.name}-{len(servers)}")
        servers.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[MosquittoFactory]:
    """Start extra brokers a test may stop and restart; all are stopped after the test."""
    with _servers(MosquittoServer, tmp_path / "mosquitto") as start:
        yield start


@pytest.fixture
def influxdb_factory(tmp_path: Path) -> Iterator[InfluxFactory]:
    """Start extra InfluxDB servers a test may stop and restart; all stop after the test."""
    with _servers(InfluxServer, tmp_path / "influxdb") as start:
        yield start


@pytest.fixture
def victoria_metrics_factory(tmp_path: Path) -> Iterator[VictoriaFactory]:
    """Start VictoriaMetrics servers (v2 write API peers) a test may stop and restart."""
    with _servers(VictoriaMetricsServer, tmp_path / "victoria-metrics") as start:
        yield start


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A test that runs `firegw` in this process sets up its logging (root level and a
    handler on a stream pytest later closes); put it back, so later tests see what they log."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)
    for handler in root.handlers[:]:
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
