"""Outbox -> InfluxV1Sink -> a real influxd 1.x: exact values, dead letters, outages."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

import pytest
from aiohttp import web

from core.reading import Quality, Reading
from gateway.outbox import Outbox, OutboxWriter
from gateway.outbox.lineprotocol import encode
from gateway.sinks import InfluxV1Sink
from gateway.sinks.delivery import OutboxSink
from tests.servers import InfluxServer

T0 = 1_700_000_000_000_000_000
TAGS = {"site": "campus", "building": "inpatient 1", "zone": "Station d'oxygène"}


def hydrant_lines(count: int, start: int = 0) -> list[str]:
    """Pressure readings from 10 hydrants, one per millisecond."""
    return [
        encode(
            Reading(f"hy-{i % 10:02d}", "pressure", 0.25 + i / 1000, observed_at=T0 + i * 10**6),
            "hydrant_pressure",
            TAGS,
        )
        for i in range(start, start + count)
    ]


def expected_keys(count: int) -> set[tuple[str, int]]:
    return {(f"hy-{i % 10:02d}", T0 + i * 10**6) for i in range(count)}


def stored_keys(server: InfluxServer, db: str) -> list[tuple[str, int]]:
    rows = server.query(db, "SELECT pressure, device FROM hydrant_pressure")
    return [(row["device"], row["time"]) for row in rows]


class Stoppable(Protocol):
    def start(self) -> object: ...
    def stop(self) -> None: ...


async def write_through_an_outage(
    writer: OutboxWriter, lines: list[str], server: Stoppable, rounds: int = 30
) -> None:
    """Put `lines` in rounds; the server is down from a third of the way to two thirds."""
    per_round = len(lines) // rounds
    for r in range(rounds):
        if r == rounds // 3:
            await asyncio.to_thread(server.stop)
        if r == 2 * rounds // 3:
            await asyncio.to_thread(server.start)
        for line in lines[r * per_round : (r + 1) * per_round]:
            await writer.put(line)
        await asyncio.sleep(0.02)
    await writer.flush()


async def drained(outbox: Outbox) -> None:
    """Wait (at most 10 s) until the sink has emptied the outbox."""
    async with asyncio.timeout(10):
        while await outbox.backlog():  # noqa: ASYNC110 - the outbox has no "empty" event
            await asyncio.sleep(0.02)


@asynccontextmanager
async def pipeline(outbox: Outbox, sink: OutboxSink) -> AsyncIterator[OutboxWriter]:
    """Run a writer and the sink on `outbox` for the duration of the block. The writer
    commits as the lines come (no `commit_interval`), so the sink meets an outage that lasts
    a fraction of a second."""
    writer = OutboxWriter(outbox, on_commit=sink.wake, commit_interval=0)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(writer.run()), group.create_task(sink.run(outbox))]
        try:
            yield writer
        finally:
            for task in tasks:
                task.cancel()


async def test_readings_arrive_with_exact_values_and_times(
    influxdb: InfluxServer, tmp_path: Path
) -> None:
    readings = [
        Reading("sd-01", "obscuration", 0.1234567890123, observed_at=T0 + 1),
        Reading("sd-01", "battery", 87, observed_at=T0 + 2),
        Reading("sd-01", "alarm", True, observed_at=T0 + 3),
        Reading("sd-01", "status", 'pre "alarm"\\', observed_at=T0 + 4),
        Reading(
            "sd-01",
            "temperature",
            None,
            Quality.TIMEOUT,
            detail="no answer in 1 s",
            observed_at=T0 + 5,
        ),
    ]
    async with (
        Outbox(tmp_path / "outbox.db") as outbox,
        InfluxV1Sink(influxdb.url, "exact") as sink,
    ):
        async with pipeline(outbox, sink) as writer:
            for reading in readings:
                await writer.put(encode(reading, "smoke_detector", TAGS))
            await writer.flush()
            await drained(outbox)
        assert sink.written == 5
        assert sink.last_error is None
        assert sink.last_success is not None
    rows = influxdb.query("exact", "SELECT * FROM smoke_detector")
    values = {row["time"]: {k: v for k, v in row.items() if v is not None} for row in rows}
    tags = {"time": T0, **TAGS, "device": "sd-01"}
    assert values == {
        T0 + 1: {**tags, "time": T0 + 1, "obscuration": 0.1234567890123},
        T0 + 2: {**tags, "time": T0 + 2, "battery": 87},
        T0 + 3: {**tags, "time": T0 + 3, "alarm": True},
        T0 + 4: {**tags, "time": T0 + 4, "status": 'pre "alarm"\\'},
        T0 + 5: {
            **tags,
            "time": T0 + 5,
            "temperature_quality": "timeout",
            "temperature_detail": "no answer in 1 s",
        },
    }


async def test_malformed_lines_are_set_aside_and_the_rest_is_written(
    influxdb: InfluxServer, tmp_path: Path
) -> None:
    good = hydrant_lines(40)
    not_line_protocol = "this is not line protocol"
    type_conflict = 'hydrant_pressure,device=hy-99 pressure="high" 1700000000000000000'
    path = tmp_path / "outbox.db"
    async with Outbox(path) as outbox, InfluxV1Sink(influxdb.url, "malformed") as sink:
        await outbox.append(
            [*good[:13], not_line_protocol, *good[13:30], type_conflict, *good[30:]]
        )
        async with pipeline(outbox, sink):
            await drained(outbox)
        assert await outbox.dead_letters() == 2
        assert (sink.written, sink.rejected) == (40, 2)
    assert sorted(stored_keys(influxdb, "malformed")) == sorted(expected_keys(40))
    with sqlite3.connect(path) as db:
        dead = dict(db.execute("SELECT line, reason FROM dead_letter").fetchall())
    assert dead == {
        not_line_protocol: "HTTP 400: unable to parse 'this is not line protocol':"
        " invalid field format",
        type_conflict: 'HTTP 400: partial write: field type conflict: input field "pressure"'
        ' on measurement "hydrant_pressure" is type string, already exists as type float'
        " dropped=1",
    }


async def test_every_line_arrives_once_across_a_database_outage(
    influxdb_factory: Callable[[], InfluxServer],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.sinks")
    server = influxdb_factory()
    total = 3000
    lines = hydrant_lines(total)
    sink = InfluxV1Sink(server.url, "outage", batch_size=200, retry_initial=0.05, retry_max=0.2)
    async with Outbox(tmp_path / "outbox.db") as outbox, sink, pipeline(outbox, sink) as writer:
        await write_through_an_outage(writer, lines, server)
        await drained(outbox)
    stored = stored_keys(server, "outage")
    assert len(stored) == total
    assert set(stored) == expected_keys(total)
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in messages] == ["WARNING", "INFO"]
    assert messages[0][1].startswith(f"influxdb {server.url}: no answer from {server.url}")
    assert messages[1][1].startswith(f"influxdb {server.url}: writing again after ")


async def test_retry_after_is_honoured(tmp_path: Path) -> None:
    """A scripted peer: InfluxDB 1.x never sends 429, but proxies and InfluxDB Cloud do."""
    arrivals: list[float] = []

    async def write(request: web.Request) -> web.Response:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return web.json_response(
                {"error": "slow down"}, status=429, headers={"Retry-After": "1"}
            )
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/write", write)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    try:
        sink = InfluxV1Sink(url, "db", create_database=False, retry_initial=0.01)
        async with Outbox(tmp_path / "outbox.db") as outbox, sink, pipeline(outbox, sink):
            await outbox.append(hydrant_lines(3))
            await drained(outbox)
    finally:
        await runner.cleanup()
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 1.0
