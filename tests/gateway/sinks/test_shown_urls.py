"""A password in a database URL is never shown: not in sink log lines, not in a sink's last
error, not in the status document that any client of the broker can read.

`firegw check` refuses such a URL (tests/gateway/config/test_site_file.py); this is the
defence in depth behind it, for a sink made some other way."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.config import redact_url, redact_urls
from gateway.config.models import OutboxSettings
from gateway.health.delivery import DeliveryHealth
from gateway.outbox import Outbox
from gateway.sinks import InfluxV1Sink, InfluxV2Sink
from tests.servers import free_port
from tests.sites import eventually


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://firegw:s3cret@db:8086", "http://***@db:8086"),
        ("https://token@db.example/influx", "https://***@db.example/influx"),
        ("http://u:p@ss:w/rd@db:8086", "http://***@db:8086"),
        ("http://db:8086/?u=firegw&p=s3cret", "http://db:8086/?***"),
        ("http://db:8086/write#p=s3cret", "http://db:8086/write?***"),
        ("http://10.20.0.5:8086", "http://10.20.0.5:8086"),
        ("https://influx.campus.example:8086/", "https://influx.campus.example:8086/"),
    ],
)
def test_a_url_is_shown_without_its_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_urls_inside_a_message_are_redacted() -> None:
    message = "no answer from http://firegw:s3cret@db:8086: InvalidURL('http://a:b@c/?p=x')"
    assert redact_urls(message) == (
        "no answer from http://***@db:8086: InvalidURL('http://***@c/?***')"
    )


async def test_a_failing_sink_logs_and_reports_its_url_redacted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: "influxdb http://firegw:s3cret@127.0.0.1:...: no answer from
    http://firegw:s3cret@..." on every outage, and the same URL in `last_error`."""
    caplog.set_level(logging.DEBUG, logger="gateway.sinks")
    port = free_port()  # nothing listens: every attempt fails
    sink = InfluxV1Sink(
        f"http://firegw:s3cret@127.0.0.1:{port}", "db", retry_initial=0.01, retry_max=0.02
    )
    assert sink.url == f"http://***@127.0.0.1:{port}"
    async with Outbox(tmp_path / "outbox.sqlite") as outbox, sink:
        task = asyncio.create_task(sink.run(outbox))
        await eventually(lambda: sink.health.failures >= 2, within=10, what="two failed attempts")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    lines = [record.getMessage() for record in caplog.records]
    assert any(f"influxdb http://***@127.0.0.1:{port}: no answer" in line for line in lines)
    assert not [line for line in lines if "s3cret" in line]
    assert sink.last_error is not None
    assert "s3cret" not in sink.last_error


def test_a_v2_sink_shows_its_url_redacted() -> None:
    sink = InfluxV2Sink("https://firegw:s3cret@db.example", "org", "bucket", "token")
    assert sink.url == "https://***@db.example"
    assert sink.health.name == "influxdb https://***@db.example"


@dataclass
class CarelessSink:
    """A sink that does not redact what it shows (not one of ours)."""

    name: str = "central"
    url: str = "https://firegw:s3cret@db.example"
    written: int = 0
    rejected: int = 0
    last_error: str | None = "HTTP 401: https://firegw:s3cret@db.example/api/v2/write refused"
    last_success: float | None = None


async def test_the_status_document_never_carries_a_password(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "outbox.sqlite", sinks=["central"]) as outbox:
        health = DeliveryHealth(OutboxSettings(), outbox, {"central": CarelessSink()})  # type: ignore[dict-item]
        await health.check()
    assert health.report is not None
    [sink] = health.report.sinks
    assert sink.url == "https://***@db.example"
    assert sink.last_error == "HTTP 401: https://***@db.example/api/v2/write refused"
    assert "s3cret" not in json.dumps(health.report.as_dict())
