"""The trouble condition "history not reaching the database": raised on a filling outbox or an
old backlog, logged once, cleared and logged when the sinks catch up."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from gateway.config.models import OutboxSettings
from gateway.history import HistoryHealth
from gateway.outbox import Outbox


def readings(count: int, at: int) -> list[str]:
    return [f"hydrant_pressure,device=hy-{i} pressure=0.3 {at + i}" for i in range(count)]


async def test_raised_at_the_fill_share_and_cleared_when_delivered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.history")
    settings = OutboxSettings(max_rows=1000, alarm_fill=0.5, alarm_age=3600)
    now = time.time_ns()
    async with Outbox(tmp_path / "outbox.db", sinks=["central"], max_rows=1000) as outbox:
        health = HistoryHealth(settings, outbox)
        await outbox.append(readings(499, now))
        assert await health.check() is None
        await outbox.append(readings(1, now))
        assert await health.check() == "outbox holds 500 of at most 1000 lines"
        assert await health.check() is not None  # still raised, not logged again
        rows = await outbox.peek(1000)
        await outbox.reader("central").advance(rows[-1][0])
        assert await health.check() is None
    messages = [(r.levelname, r.getMessage()) for r in caplog.records
                if r.name == "gateway.history"]  # fmt: skip
    assert messages == [
        ("WARNING", "trouble: history not reaching the database: outbox holds 500 of at most"
                    " 1000 lines"),
        ("INFO", "history reaches the database again (was: outbox holds 500 of at most 1000"
                 " lines)"),
    ]  # fmt: skip


async def test_raised_when_the_oldest_waiting_line_is_too_old(tmp_path: Path) -> None:
    settings = OutboxSettings(max_rows=1000, alarm_fill=0.5, alarm_age=60)
    async with Outbox(tmp_path / "outbox.db", sinks=["local", "central"]) as outbox:
        health = HistoryHealth(settings, outbox)
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
