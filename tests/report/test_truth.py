"""`firegw report` against a period whose truth is known (tests/report/scenario.py and
truth.py): from a real InfluxDB 1.x with raw readings, with the storage of docs/report.md
(events kept apart, readings downsampled) and from the gateway's own stores."""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from firegw.report.make import read_figures
from firegw.report.period import Period
from gateway.alarms import AlarmStore
from gateway.config import Site
from gateway.outbox import Outbox
from rules import AlarmEvent
from tests.report import truth
from tests.report.scenario import reading_lines, store_in_influx, write_site
from tests.servers import InfluxServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "report.md"


def test_the_report_from_influxdb_says_what_happened(
    influx_with_period: tuple[InfluxServer, Site], period: Period
) -> None:
    _, site = influx_with_period
    truth.check(read_figures(site, period))


def influxql_blocks() -> list[list[str]]:
    """The statements of each ```influxql block of docs/report.md, one per line."""
    blocks = re.findall(r"```influxql\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def run(influx: InfluxServer, statement: str) -> None:
    body = urllib.parse.urlencode({"q": statement}).encode()
    request = urllib.request.Request(f"{influx.url}/query", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = response.read().decode()
    except urllib.error.HTTPError as error:
        answer = error.read().decode()
    assert '"error"' not in answer, (statement, answer)


def test_the_documented_storage_keeps_what_the_report_needs(
    tmp_path: Path, played: list[AlarmEvent], period: Period
) -> None:
    """The statements of docs/report.md, verbatim: retention policies and continuous queries,
    then the backfill for the period; with the raw readings dropped, the report reads the
    events and the per-minute readings from the long retention policy alone."""
    setup, backfill = influxql_blocks()
    with InfluxServer(tmp_path / "influxd").start() as influx:
        for statement in setup:
            # the period lies months back, beyond the raw policy's 30 days: keep it here
            run(
                influx,
                statement.replace("raw ON firegw DURATION 30d", "raw ON firegw DURATION INF"),
            )
        site = write_site(tmp_path, influx)
        store_in_influx(influx, site, played)  # into the default policy, raw
        for statement in backfill:
            for documented, ours in (("03-01", "02-28"), ("03-03", "03-04")):
                statement = statement.replace(f"2026-{documented}T", f"2026-{ours}T")  # noqa: PLW2901
            run(influx, statement)
        run(influx, "DROP RETENTION POLICY raw ON firegw")
        history = "  history: {events: history, readings: raw, downsampled: history}\n"
        site = write_site(tmp_path, influx, history)
        figures = read_figures(site, period)
    truth.check(figures)
    assert figures.scope.history.readings_from == "downsampled"


def test_without_a_database_the_report_reads_the_gateways_stores(
    tmp_path: Path, played: list[AlarmEvent], period: Period
) -> None:
    site = write_site(tmp_path, None)

    async def keep() -> None:
        async with AlarmStore(site.alarm_store_path) as store:
            assert await store.record(played)
        async with Outbox(site.outbox_path) as outbox:
            await outbox.append(list(reading_lines(site)))

    asyncio.run(keep())
    figures = read_figures(site, period)
    truth.check(figures)
    assert figures.scope.history.readings_from == "stores"
