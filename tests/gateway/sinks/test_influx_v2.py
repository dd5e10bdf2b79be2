"""Outbox -> InfluxV2Sink -> a real v2 write API (VictoriaMetrics), and a scripted peer for the
answers VictoriaMetrics never gives (400 with a reason, 429 with Retry-After)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from gateway.outbox import Outbox
from gateway.sinks.influx_v2 import InfluxV2Sink
from tests.conftest import VictoriaFactory
from tests.gateway.sinks.test_influx_v1 import (
    T0,
    drained,
    hydrant_lines,
    pipeline,
    write_through_an_outage,
)
from tests.servers import VictoriaMetricsServer

Handler = Callable[[web.Request], Awaitable[web.Response]]


def expected_samples(count: int, start: int = 0) -> set[tuple[str, int, float]]:
    """(device, time in ms, pressure) of `hydrant_lines(count, start)`.

    Values are rounded to 9 decimals: VictoriaMetrics stores floats as decimals with about 12
    significant digits, so 0.25 + 0.092 (0.34200000000000003) comes back as 0.342.
    """
    return {
        (f"hy-{i % 10:02d}", (T0 + i * 10**6) // 10**6, round(0.25 + i / 1000, 9))
        for i in range(start, start + count)
    }


def stored_samples(server: VictoriaMetricsServer) -> list[tuple[str, int, float]]:
    """Every stored pressure sample, duplicates kept (VictoriaMetrics does not merge them)."""
    return [
        (labels["device"], at, round(value, 9))
        for labels, value, at in server.export("hydrant_pressure_pressure")
    ]


def v2_sink(url: str, **options: float) -> InfluxV2Sink:
    return InfluxV2Sink(url, "st-lukes", "fire", "test-token", **options)  # type: ignore[arg-type]


async def test_readings_arrive_once_with_exact_values(
    victoria_metrics_factory: VictoriaFactory, tmp_path: Path
) -> None:
    server = victoria_metrics_factory()
    async with Outbox(tmp_path / "outbox.db") as outbox, v2_sink(server.url) as sink:
        await outbox.append(hydrant_lines(2000))
        async with pipeline(outbox, sink):
            await drained(outbox)
        assert (sink.written, sink.rejected, sink.last_error) == (2000, 0, None)
    stored = stored_samples(server)
    assert len(stored) == 2000
    assert set(stored) == expected_samples(2000)


async def test_every_line_arrives_once_across_an_outage(
    victoria_metrics_factory: VictoriaFactory, tmp_path: Path
) -> None:
    server = victoria_metrics_factory()
    total = 3000
    lines = hydrant_lines(total)
    sink = v2_sink(server.url, batch_size=200, retry_initial=0.05, retry_max=0.2)
    async with Outbox(tmp_path / "outbox.db") as outbox, sink, pipeline(outbox, sink) as writer:
        await write_through_an_outage(writer, lines, server)
        await drained(outbox)
        assert sink.last_error is None
    stored = stored_samples(server)
    assert len(stored) == total
    assert set(stored) == expected_samples(total)


@asynccontextmanager
async def scripted_peer(write: Handler) -> AsyncIterator[str]:
    """An HTTP server on a free port whose ``/api/v2/write`` is `write`; yields its URL."""
    app = web.Application()
    app.router.add_post("/api/v2/write", write)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_rejected_batch_is_split_and_the_bad_lines_set_aside(tmp_path: Path) -> None:
    """InfluxDB 2.x answers 400 with a JSON reason; VictoriaMetrics skips bad lines silently."""
    accepted: list[str] = []
    requests: list[tuple[dict[str, str], str | None, str | None]] = []

    async def write(request: web.Request) -> web.Response:
        body = await request.text()  # aiohttp has undone the Content-Encoding: gzip
        requests.append(
            (
                dict(request.query),
                request.headers.get("Authorization"),
                request.headers.get("Content-Encoding"),
            )
        )
        bad = [line for line in body.split("\n") if not line.startswith("hydrant_pressure,")]
        if bad:
            return web.json_response(
                {"code": "invalid", "message": f"unable to parse '{bad[0]}'"}, status=400
            )
        accepted.extend(body.split("\n"))
        return web.Response(status=204)

    good = hydrant_lines(20)
    path = tmp_path / "outbox.db"
    async with scripted_peer(write) as url, Outbox(path) as outbox, v2_sink(url) as sink:
        await outbox.append([*good[:7], "not line protocol", *good[7:]])
        async with pipeline(outbox, sink):
            await drained(outbox)
        assert (sink.written, sink.rejected) == (20, 1)
    assert accepted == good
    assert requests[0] == (
        {"org": "st-lukes", "bucket": "fire", "precision": "ns"},
        "Token test-token",
        "gzip",
    )
    with sqlite3.connect(path) as db:
        dead = db.execute("SELECT line, reason, sink FROM dead_letter").fetchall()
    assert dead == [
        ("not line protocol", "HTTP 400: unable to parse 'not line protocol'", "influxdb")
    ]


async def test_retry_after_is_honoured_on_429(tmp_path: Path) -> None:
    arrivals: list[float] = []

    async def write(request: web.Request) -> web.Response:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return web.json_response(
                {"code": "too many requests", "message": "slow down"},
                status=429,
                headers={"Retry-After": "1"},
            )
        return web.Response(status=204)

    async with (
        scripted_peer(write) as url,
        Outbox(tmp_path / "outbox.db") as outbox,
        v2_sink(url, retry_initial=0.01) as sink,
        pipeline(outbox, sink),
    ):
        await outbox.append(hydrant_lines(3))
        await drained(outbox)
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 1.0
