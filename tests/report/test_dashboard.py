"""The Grafana dashboard (dashboards/firegw-site.json): every panel's query, with Grafana's
macros filled in as Grafana fills them, against a real InfluxDB 1.x holding the synthetic
period (tests/report/scenario.py) and the gateway's alarm load for it, and what each returns
against what happened."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import Reading
from gateway.alarms.lines import EventLines
from gateway.config import Site
from gateway.outbox.lineprotocol import encode
from rules import AlarmEvent, AlarmLoad
from tests.report.scenario import (
    DATABASE,
    START,
    ns,
    play,
    reading_lines,
    write_lines,
    write_site,
)
from tests.servers import InfluxServer

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "firegw-site.json"
HOUR_NS = 3_600_000_000_000
FIRST = ns(START)
LAST = FIRST + 48 * HOUR_NS


@pytest.fixture(scope="module")
def database(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[InfluxServer, list[AlarmEvent]]]:
    folder = tmp_path_factory.mktemp("dashboard")
    with InfluxServer(folder / "influxd").start() as influx:
        site = write_site(folder, influx)
        events = play(site)
        influx.create_database(DATABASE)
        lines = EventLines(site.config.site.id, {z.id: str(z.risk) for z in site.config.zones})
        write_lines(influx, [lines(event) for event in events])
        write_lines(influx, list(reading_lines(site)))
        write_lines(influx, list(_alarm_load(site, events)))
        yield influx, events


def _alarm_load(site: Site, events: list[AlarmEvent]) -> Iterator[str]:
    """The gateway's alarm-load points and its outbox backlog (nothing waiting), once a
    minute, as the gateway stores them."""
    load, index = AlarmLoad(started=FIRST / 1e9), 0
    device = site.config.site.gateway_id
    tags = {"site": site.config.site.id}
    for minute in range(48 * 60):
        at = FIRST + (minute + 1) * 60_000_000_000 - 1
        while index < len(events) and events[index].at <= at:
            load.count([events[index]], events[index].at / 1e9)
            index += 1
        backlog = Reading(device, "outbox_backlog", 0, unit="lines", observed_at=at)
        for reading in [*load.summary([], at / 1e9).readings(device, at), backlog]:
            yield encode(reading, "gateway", tags)


def queries(zone: str = ".*") -> Iterator[tuple[str, str, str]]:
    """(panel title, refId, query) of every panel, macros filled as Grafana fills them for
    the whole period at a 1 h interval, site `demo`, zone `zone`."""
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            query = target["query"]
            for macro, value in (
                (
                    "$timeFilter",
                    f"time >= {FIRST // 1_000_000}ms and time <= {LAST // 1_000_000}ms",
                ),
                ("$__interval_ms", "3600000"),
                ("$__interval", "1h"),
                ("$site", "demo"),
                ("$zone", zone),
            ):
                query = query.replace(macro, value)
            yield panel["title"], target["refId"], query


def results(influx: InfluxServer, zone: str = ".*") -> dict[tuple[str, str], list[dict[str, Any]]]:
    return {(title, ref): influx.query(DATABASE, q) for title, ref, q in queries(zone)}


def test_the_dashboard_is_for_an_influxdb_data_source_and_every_panel_has_a_query() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["__inputs"][0]["pluginId"] == "influxdb"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["type"] == "influxdb", panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["rawQuery"] and "$timeFilter" in t["query"] for t in panel["targets"])
    titles = {p["title"] for p in dashboard["panels"]}
    for wanted in (
        "Alarms raised by class",
        "Time to respond",
        "Hydrant pressure",
        "Devices answering",
    ):
        assert wanted in titles


def test_every_panel_answers_with_what_happened(
    database: tuple[InfluxServer, list[AlarmEvent]],
) -> None:
    influx, events = database
    got = results(influx)
    assert all(got.values()), [key for key, rows in got.items() if not rows]
    raised = [e for e in events if str(e.kind) == "raised"]

    def single(title: str) -> float:
        (row,) = got[(title, "A")]
        return float(next(v for k, v in row.items() if k != "time"))

    assert single("Alarms raised") == len(raised)
    assert single("Fire alarms") == sum(1 for e in raised if str(e.alarm.alarm_class) == "fire")
    assert single("Escalations") == sum(1 for e in events if str(e.kind) == "escalated")
    assert single("Alarms in the last 10 minutes") == 0  # the last minute of the period
    assert single("Time in flood (24 h)") == round(1 / 144, 4)  # D2: one 10-minute flood
    assert single("Outbox backlog") == 0

    by_class = Counter(str(e.alarm.alarm_class) for e in raised)
    summed: Counter[str] = Counter()
    for row in got[("Alarms raised by class", "A")]:
        summed[row["class"]] += row["count"]
    assert summed == by_class

    responded: dict[tuple[int, str], list[float]] = {}
    for e in events:
        if str(e.kind) == "acknowledged":
            hour = (e.at - FIRST) // HOUR_NS * HOUR_NS + FIRST
            responded.setdefault((hour, str(e.alarm.alarm_class)), []).append(
                (e.at - e.alarm.raised_at) / 1e9
            )
    means = {(row["time"], row["class"]): row["mean"] for row in got[("Time to respond", "A")]}
    assert means == pytest.approx({k: sum(v) / len(v) for k, v in responded.items()}, abs=1e-3)
    on_site = {row["class"]: row["mean"] for row in got[("Time to respond", "B")]}
    assert set(on_site) == {"fire", "supervisory"}

    pressure = {(r["device"], r["time"]): r["mean"] for r in got[("Hydrant pressure", "A")]}
    assert {device for device, _ in pressure} == {"HP-1F-01", "HP-2F-01", "HP-B1-01"}
    assert pressure[("HP-1F-01", FIRST + 5 * HOUR_NS)] == pytest.approx(1.2)
    assert pressure[("HP-2F-01", FIRST + 10 * HOUR_NS)] == pytest.approx(
        (9 * 0.05 + 0.3 + 51 * 0.45) / 61
    )

    def answering(ref: str, hour: int) -> float:
        rows = got[("Devices answering", ref)]
        return float(next(r["count"] for r in rows if r["time"] == FIRST + hour * HOUR_NS))

    assert answering("A", 19) == 5.0  # detectors
    assert answering("A", 20) == 4.0  # SD-B1-01 silent 20:00-21:29
    assert answering("A", 21) == 4.5
    assert answering("B", 24 + 12) == 2.5  # HP-B1-01 silent D2 12:00-12:29
    assert answering("C", 30) == 3.0  # cameras

    high = Counter(e.alarm.zone for e in raised if e.alarm.zone in ("main-1f-er", "main-2f-ward"))
    assert {r["zone"]: r["count"] for r in got[("Alarms in the high-risk zones", "A")]} == high
    blind = {r["zone"]: r["count"] for r in got[("Blind spots raised", "A")]}
    assert blind == {"main-2f-ward": 1, "main-b1-plant": 1}


def test_the_zone_variable_narrows_the_panels(
    database: tuple[InfluxServer, list[AlarmEvent]],
) -> None:
    influx, events = database
    dashboard = json.loads(DASHBOARD.read_text())
    zone_query = dashboard["templating"]["list"][1]["query"].replace("$site", "demo")
    zones = {row["value"] for row in influx.query(DATABASE, zone_query)}
    assert zones == {"main-1f-er", "main-2f-ward", "main-b1-plant"}
    got = results(influx, zone="(main-b1-plant)")
    (row,) = got[("Alarms raised", "A")]
    expected = sum(1 for e in events if str(e.kind) == "raised" and e.alarm.zone == "main-b1-plant")
    assert row["count"] == expected
    assert {r["device"] for r in got[("Hydrant pressure", "A")]} == {"HP-B1-01"}
