"""InfluxDB over https with the site's CA, against a real influxd with a generated
certificate; a certificate that does not verify is named once, the lines wait in the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import InfluxV1Connection
from gateway.outbox import Outbox, OutboxWriter
from gateway.runtime.wiring import make_sink
from tests.servers import InfluxServer
from tests.sites import eventually
from tests.tls import Pki, make_pki

LINE = "hydrant_pressure,device=HP-1 pressure=0.41 1767225600000000000"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def influxdb(tmp_path: Path, pki: Pki) -> Iterator[InfluxServer]:
    with InfluxServer(
        tmp_path / "influxdb", certificate=pki.server_cert, key=pki.server_key, ca=pki.ca
    ) as server:
        yield server.start()


def connection(url: str, ca: Path) -> InfluxV1Connection:
    return InfluxV1Connection.model_validate(
        {"url": url, "database": "https", "tls": {"ca_file": str(ca)}}
    )


async def test_lines_reach_influxdb_over_https_with_the_sites_ca(
    tmp_path: Path, pki: Pki, influxdb: InfluxServer
) -> None:
    assert influxdb.url.startswith("https://")
    async with Outbox(tmp_path / "outbox.sqlite") as outbox:
        sink = make_sink(connection(influxdb.url, pki.ca), tmp_path)
        writer = OutboxWriter(outbox)
        await writer.put(LINE)
        await writer.flush()
        async with sink:
            delivering = asyncio.create_task(sink.run(outbox))
            await eventually(lambda: sink.written == 1, what="the line acknowledged over https")
            delivering.cancel()
            await asyncio.gather(delivering, return_exceptions=True)
    rows = influxdb.query("https", 'SELECT * FROM "hydrant_pressure"')
    assert [row["pressure"] for row in rows] == [0.41]


async def test_a_certificate_that_does_not_verify_is_named_once(
    tmp_path: Path, influxdb: InfluxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.sinks")
    stranger = make_pki(tmp_path / "other", "some other CA")
    async with Outbox(tmp_path / "outbox.sqlite") as outbox:
        sink = make_sink(connection(influxdb.url, stranger.ca), tmp_path)
        writer = OutboxWriter(outbox)
        await writer.put(LINE)
        await writer.flush()
        async with sink:
            delivering = asyncio.create_task(sink.run(outbox))
            await eventually(lambda: sink.health.failures >= 3, what="three attempts")
            delivering.cancel()
            await asyncio.gather(delivering, return_exceptions=True)
        assert await outbox.reader("influxdb").peek(10)  # still waiting, nothing lost
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"influxdb {influxdb.url}: TLS handshake with {influxdb.url} failed: certificate "
        "verify failed (unable to get local issuer certificate); retrying in the background"
    ]


def test_a_tls_file_that_is_not_there_stops_the_start(tmp_path: Path) -> None:
    missing = connection("https://127.0.0.1:8086", tmp_path / "ca.pem")
    with pytest.raises(LookupError) as stopped:
        make_sink(missing, tmp_path)
    assert (
        str(stopped.value) == f"influxdb influxdb: tls.ca_file: {tmp_path / 'ca.pem'} is not a file"
    )
