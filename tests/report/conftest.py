"""The report's test kit: the synthetic period played once, and real InfluxDB servers
holding it (tests/report/scenario.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from firegw.report.period import Period, period_from
from gateway.config import Site
from rules import AlarmEvent
from tests.console.conftest import browser  # noqa: F401 (the fixture: headless Chromium)
from tests.report.scenario import play, store_in_influx, write_site
from tests.servers import InfluxServer


@pytest.fixture(scope="session")
def period() -> Period:
    return period_from(since="2026-02-28", until="2026-03-01", zone=dt.UTC)


@pytest.fixture(scope="session")
def played(tmp_path_factory: pytest.TempPathFactory) -> list[AlarmEvent]:
    """The scenario's events, from the real rules engine."""
    return play(write_site(tmp_path_factory.mktemp("played"), None))


@pytest.fixture(scope="module")
def influx_with_period(
    tmp_path_factory: pytest.TempPathFactory, played: list[AlarmEvent]
) -> Iterator[tuple[InfluxServer, Site]]:
    """A real InfluxDB 1.x holding the period as the gateway writes it (one database, its
    default retention policy), and the demo site pointing at it."""
    folder = tmp_path_factory.mktemp("influx")
    with InfluxServer(folder / "influxd").start() as influx:
        site = write_site(folder, influx)
        store_in_influx(influx, site, played)
        yield influx, site


def site_for(influx: InfluxServer, folder: Path, report: str = "") -> Site:
    return write_site(folder, influx, report)
