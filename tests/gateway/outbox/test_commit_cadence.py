"""The writer commits readings at most once per `commit_interval`, and never holds back an
alarm event or a flush: fewer commits is what spares an SD card."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from gateway.outbox import Outbox, OutboxWriter

ALARM_EVENT = 'alarm_event,device=SD-1F-01 kind="raised" 5'


def reading(i: int) -> str:
    return f"smoke_detector,device=SD-{i % 7} obscuration=0.0{i % 10} {i}"


@asynccontextmanager
async def running(
    folder: Path, **options: float
) -> AsyncIterator[tuple[Outbox, OutboxWriter, list[float]]]:
    """An outbox in `folder`, a writer at work on it, and the loop times of its commits."""
    loop = asyncio.get_running_loop()
    commits: list[float] = []
    async with Outbox(folder / "outbox.db") as outbox:
        writer = OutboxWriter(
            outbox,
            never_drop=["alarm_event"],
            on_commit=lambda: commits.append(loop.time()),
            **options,
        )
        task = asyncio.create_task(writer.run())
        try:
            yield outbox, writer, commits
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def committed(commits: list[float], count: int) -> None:
    """Wait (at most 10 s) until the writer has made `count` commits."""
    async with asyncio.timeout(10):
        while len(commits) < count:  # noqa: ASYNC110 - the callback has no event of its own
            await asyncio.sleep(0.01)


async def test_steady_readings_are_committed_once_per_interval(tmp_path: Path) -> None:
    async with running(tmp_path, commit_interval=0.5) as (outbox, writer, commits):
        loop = asyncio.get_running_loop()
        start = loop.time()
        i = 0
        while loop.time() < start + 2.2:  # 200 readings a second for 2.2 s
            writer.put_nowait(reading(i))
            i += 1
            await asyncio.sleep(0.005)
        await writer.flush()
        gaps = [later - earlier for earlier, later in itertools.pairwise(commits)]
        assert 3 <= len(commits) <= 7, commits  # not one per 50 ms: 44 would be
        assert min(gaps[:-1]) >= 0.45, gaps  # the last one is the flush's
        assert [line for _, line in await outbox.peek(10_000)] == [reading(n) for n in range(i)]


async def test_the_first_reading_after_a_quiet_spell_is_not_held(tmp_path: Path) -> None:
    async with running(tmp_path, commit_interval=30) as (outbox, writer, commits):
        writer.put_nowait(reading(1))
        await committed(commits, 1)
        assert await outbox.backlog() == 1


async def test_an_alarm_event_is_committed_at_once_with_the_readings_before_it(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, commit_interval=30) as (outbox, writer, commits):
        writer.put_nowait(reading(1))
        await committed(commits, 1)
        writer.put_nowait(reading(2))  # would wait 30 s for the next commit
        writer.put_nowait(ALARM_EVENT)
        await committed(commits, 2)  # well before the 30 s
        assert [line for _, line in await outbox.peek(10)] == [reading(1), reading(2), ALARM_EVENT]


async def test_a_flush_does_not_wait_for_the_interval(tmp_path: Path) -> None:
    async with running(tmp_path, commit_interval=30) as (outbox, writer, commits):
        writer.put_nowait(reading(1))
        await committed(commits, 1)
        for i in range(2, 50):
            writer.put_nowait(reading(i))
        async with asyncio.timeout(10):
            await writer.flush()
        assert await outbox.backlog() == 49
