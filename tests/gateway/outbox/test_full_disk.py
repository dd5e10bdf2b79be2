"""The outbox writer on a real full disk (a small tmpfs): the producers never wait, every
reading it cannot store is counted, alarm event lines wait in memory and are written once
space returns."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from gateway.outbox import Outbox, OutboxWriter
from tests.disk import SmallDisk
from tests.sites import eventually

ALARM = "alarm_event"


def reading(i: int) -> str:
    return f'smoke_detector,device=SD-{i % 7} status="normal" {1_700_000_000_000_000_000 + i}'


def alarm_line(i: int) -> str:
    return f'{ALARM},device=SD-1 kind="acknowledged",by="guard {i}" {1_700_000_000_000_000_000 + i}'


async def test_a_full_disk_holds_nobody_up_counts_every_reading_and_keeps_alarm_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.outbox.writer")
    with SmallDisk(tmp_path / "disk", size_mb=4) as disk:
        path = disk.path / "outbox.sqlite"
        async with Outbox(path, sinks=()) as outbox:
            writer = OutboxWriter(
                outbox, maxsize=1000, never_drop=(ALARM,), retry_initial=0.05, retry_cap=0.2
            )
            task = asyncio.create_task(writer.run())
            put: list[str] = []
            for i in range(100):
                put.append(reading(i))
                await writer.put(put[-1])
            await writer.flush()
            disk.fill()
            async with asyncio.timeout(10):  # a writer that pushed back would hang here
                for i in range(100, 20_100):
                    line = alarm_line(i) if i % 1000 == 0 else reading(i)
                    put.append(line)
                    await writer.put(line)
                    if i % 500 == 0:
                        await asyncio.sleep(0.01)  # let it try, and fail, meanwhile
            assert writer.failing
            assert writer.full
            assert writer.dropped > 10_000
            disk.free()
            await eventually(lambda: not writer.failing, what="the writer storing again")
            await writer.flush()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            stored = [line for _, line in await outbox.peek(100_000)]
    assert len(stored) + writer.dropped == len(put)
    alarm_lines = [line for line in put if line.startswith(ALARM)]
    assert len(alarm_lines) == 20
    assert set(alarm_lines) <= set(stored)
    assert set(stored) <= set(put)
    logged = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert logged[0] == (
        "ERROR",
        f"outbox {path}: database or disk is full; readings wait in memory (up to 1000, then "
        "the oldest are dropped and counted), alarm events are kept, and the fire alarms go on",
    )
    assert logged[-1][0] == "INFO"
    assert logged[-1][1].startswith(
        f"outbox {path}: storing again ({writer.dropped} lines not stored so far) after "
    )
    assert len(logged) == 2


async def test_stopping_with_the_disk_still_full_counts_what_is_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with SmallDisk(tmp_path / "disk", size_mb=4) as disk:
        path = disk.path / "outbox.sqlite"
        async with Outbox(path, sinks=()) as outbox:
            writer = OutboxWriter(outbox, retry_initial=0.05, retry_cap=0.2)
            await writer.put(reading(0))
            await writer.flush()
            disk.fill()
            task = asyncio.create_task(writer.run())
            for i in range(1, 301):
                await writer.put(reading(i))
            await eventually(lambda: writer.failing, what="the writer failing")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            async with asyncio.timeout(10):
                await writer.close()
    assert (writer.written, writer.dropped) == (1, 300)
    assert f"outbox {path}: 300 lines could not be stored before stopping" in caplog.text
