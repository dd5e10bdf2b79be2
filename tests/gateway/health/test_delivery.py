"""The trouble condition "history not reaching the database": raised on a filling outbox or an
old backlog, logged once, cleared and logged when the sinks catch up."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from core import Reading
from gateway.config.models import OutboxSettings
from gateway.health.delivery import DeliveryHealth
from gateway.outbox import Outbox
from tests.sites import eventually


def readings(count: int, at: int) -> list[str]:
    return [f"hydrant_pressure,device=hy-{i} pressure=0.3 {at + i}" for i in range(count)]


async def test_raised_at_the_fill_share_and_cleared_when_delivered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.health.delivery")
    settings = OutboxSettings(max_rows=1000, alarm_fill=0.5, alarm_age=3600)
    now = time.time_ns()
    async with Outbox(tmp_path / "outbox.db", sinks=["central"], max_rows=1000) as outbox:
        health = DeliveryHealth(settings, outbox)
        await outbox.append(readings(499, now))
        assert await health.check() is None
        await outbox.append(readings(1, now))
        assert await health.check() == "outbox holds 500 of at most 1000 lines"
        assert await health.check() is not None  # still raised, not logged again
        rows = await outbox.peek(1000)
        await outbox.reader("central").advance(rows[-1][0])
        assert await health.check() is None
    messages = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "gateway.health.delivery"
    ]
    assert messages == [
        (
            "WARNING",
            "trouble: history not reaching the database: outbox holds 500 of at most 1000 lines",
        ),
        (
            "INFO",
            "history reaches the database again (was: outbox holds 500 of at most 1000 lines)",
        ),
    ]


async def test_raised_when_the_oldest_waiting_line_is_too_old(tmp_path: Path) -> None:
    settings = OutboxSettings(max_rows=1000, alarm_fill=0.5, alarm_age=60)
    async with Outbox(tmp_path / "outbox.db", sinks=["local", "central"]) as outbox:
        health = DeliveryHealth(settings, outbox)
        await outbox.append(readings(1, time.time_ns() - 30 * 10**9))
        assert await health.check() is None
        await outbox.append(readings(1, time.time_ns()))
        [first, _] = await outbox.peek(2)
        await outbox.reader("local").advance(first[0])
        await outbox.append(readings(1, time.time_ns() - 120 * 10**9))  # late, not first
        assert await health.check() is None
        # local's first waiting line is new; central's is the one observed 30 s ago
        health.settings = OutboxSettings(max_rows=1000, alarm_fill=0.5, alarm_age=20)
        assert await health.check() == "sink central is 30 s behind"


async def test_a_commit_that_fills_the_outbox_is_reported_at_once(tmp_path: Path) -> None:
    """The interval may be long; the fill alarm must still come before the cap drops lines."""
    settings = OutboxSettings(max_rows=1000, alarm_fill=0.5, alarm_age=3600)
    published: list[Reading] = []

    async def publish(readings: Sequence[Reading]) -> None:
        published.extend(readings)

    async with Outbox(tmp_path / "outbox.db", sinks=["central"], max_rows=1000) as outbox:
        health = DeliveryHealth(
            settings, outbox, device="firegw-test", publish=publish, interval=3600
        )
        task = asyncio.create_task(health.run())
        await eventually(lambda: len(published) > 0, within=20, what="the first report")
        assert flags(published) == {"history_stored": True, "outbox_nearly_full": False}
        await outbox.append(readings(400, time.time_ns()))
        health.committed()  # under the fill share: no report before the interval
        await asyncio.sleep(0.3)
        assert len(published) == 7
        await outbox.append(readings(200, time.time_ns()))
        health.committed()
        await eventually(lambda: len(published) > 7, within=20, what="a report on filling")
        task.cancel()
    assert flags(published[7:]) == {"history_stored": True, "outbox_nearly_full": True}
    assert {r.device for r in published} == {"firegw-test"}
    backlog = [r.value for r in published[7:] if r.point == "outbox_backlog"]
    assert backlog == [600]


async def test_the_report_names_each_sinks_backlog_and_delay(tmp_path: Path) -> None:
    settings = OutboxSettings(max_rows=1000, alarm_fill=0.5, alarm_age=60)
    async with Outbox(tmp_path / "outbox.db", sinks=["local", "central"]) as outbox:
        health = DeliveryHealth(settings, outbox)
        await outbox.append(readings(3, time.time_ns() - 90 * 10**9))
        [first, *_] = await outbox.peek(3)
        await outbox.reader("local").advance(first[0])
        assert await health.check() == "sink local is 90 s behind"  # the first of two
    report = health.report
    assert report is not None
    by_name = {sink.name: sink for sink in report.sinks}
    assert (by_name["local"].backlog, by_name["central"].backlog) == (2, 3)
    assert by_name["central"].behind == pytest.approx(90, abs=2)
    document = report.as_dict()
    assert document["late"] == "sink local is 90 s behind"
    assert document["fill"] == 0.003


def flags(published: Sequence[Reading]) -> dict[str, object]:
    return {
        r.point: r.value for r in published if r.point in ("history_stored", "outbox_nearly_full")
    }
