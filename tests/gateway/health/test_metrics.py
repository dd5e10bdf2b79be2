"""The status document as Prometheus metrics, scraped by a real Prometheus, and `/healthz`.

The clinic runs with its simulators, Mosquitto and InfluxDB; Prometheus scrapes the gateway's
`/metrics` every second, and the test reads the figures back through Prometheus' own query
API: what a facilities team's Grafana would see. `promtool check metrics` lints the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

from gateway.config import load_site
from gateway.health import MetricsServer
from gateway.runtime.gateway import Gateway
from simulators import SimulatedSite
from tests.servers import (
    PROMETHEUS,
    InfluxServer,
    MosquittoServer,
    PrometheusServer,
    free_port,
    require_binary,
)
from tests.sites import clinic_site, eventually


@contextlib.asynccontextmanager
async def serving(gateway: Gateway, port: int) -> AsyncIterator[MetricsServer]:
    task = asyncio.create_task(gateway.run())
    server: MetricsServer | None = None
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)
        assert gateway.status is not None
        server = MetricsServer(
            gateway.status.document, gateway.problems, site="demo", version="test", port=port
        )
        await server.start()
        yield server
    finally:
        if server is not None:
            await server.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def test_prometheus_scrapes_devices_modbus_history_alarms_and_the_loop(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxServer
) -> None:
    influxdb.create_database("metrics")
    site = load_site(
        clinic_site(tmp_path, mqtt_port=mosquitto.port, influx_url=influxdb.url, database="metrics")
    )
    port = free_port()
    prometheus = PrometheusServer(tmp_path / "prometheus", [f"127.0.0.1:{port}"])
    async with (
        SimulatedSite(site, seed=5, control_port=0) as simulators,
        serving(Gateway(site, status_every=1.0), port),
    ):
        with prometheus:
            await asyncio.to_thread(prometheus.start)

            async def value(expression: str) -> float | None:
                found = await asyncio.to_thread(prometheus.query, expression)
                return found[0][1] if found else None

            async def equals(expression: str, expected: float) -> bool:
                return await value(expression) == expected

            await eventually(lambda: equals('up{job="firegw"}', 1), what="the scrape working")
            await eventually(lambda: equals('firegw_devices{state="ok"}', 11), what="11 ok")
            await simulators.apply("fire", "SD-1F-01")
            await eventually(
                lambda: equals('firegw_alarms{class="fire",state="unacknowledged"}', 1),
                what="the fire, unacknowledged, by class and state",
            )
            requests = await value('firegw_modbus_requests_total{endpoint="main-panel"}')
            assert requests
            assert requests > 0
            assert await value('firegw_sink_delay_seconds{sink="influxdb"}') is not None
            assert await value("firegw_outbox_backlog_lines") is not None
            assert await value("firegw_event_loop_lag_seconds") is not None
            announced = await value("firegw_alarm_system_last_10_min")
            assert announced
            assert announced >= 1
            assert await value('firegw_info{site="demo",version="test"}') == 1

        status, text = await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        promtool = Path(require_binary(PROMETHEUS)).with_name("promtool")
        lint = await asyncio.to_thread(
            subprocess.run,
            [str(promtool), "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
        status, body = await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)) == (200, {"ok": True, "problems": []})


async def test_healthz_fails_while_the_event_loop_is_stuck(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """A loop blocked for 7 s (past the 5 s limit) is reported on the next health check."""
    site = load_site(clinic_site(tmp_path, mqtt_port=mosquitto.port))
    port = free_port()
    async with serving(Gateway(site), port):
        status, _ = await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/healthz")
        assert status == 200

        def fetch_later() -> tuple[int, str]:
            time.sleep(1)  # in its own thread: the request arrives while the loop is stuck
            return fetch(f"http://127.0.0.1:{port}/healthz")

        checked = asyncio.create_task(asyncio.to_thread(fetch_later))
        await asyncio.sleep(0.05)
        time.sleep(7)  # noqa: ASYNC251 - the point: a call that blocks the gateway's loop
        status, body = await checked
        assert status == 503
        assert json.loads(body)["problems"][0].startswith("the event loop runs ")
