"""The durable outbox and its batching writer, against real SQLite files in a temporary dir."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from gateway.outbox import Outbox, OutboxWriter
from gateway.outbox.store import OutboxClosedError, lines_in_file


def lines(count: int, start: int = 0) -> list[str]:
    return [f"m,device=d{i % 7} v={i}i {i}" for i in range(start, start + count)]


async def test_append_peek_remove_keep_order(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "outbox.db") as outbox:
        await outbox.append(lines(3))
        await outbox.append(lines(2, start=3))
        reader = outbox.reader("influxdb")
        rows = await reader.peek(4)
        assert [line for _, line in rows] == lines(4)
        assert [row_id for row_id, _ in rows] == sorted(row_id for row_id, _ in rows)
        assert await reader.advance(rows[1][0]) == 2
        assert await reader.advance(rows[1][0]) == 0
        assert [line for _, line in await reader.peek(10)] == lines(3, start=2)
        assert await outbox.backlog() == 3


async def test_lines_survive_reopening_and_ids_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "outbox.db"
    async with Outbox(path) as outbox:
        await outbox.append(lines(5))
        last_id = (await outbox.peek(5))[-1][0]
        await outbox.reader("influxdb").advance(last_id)
        await outbox.append(lines(2, start=5))
    async with Outbox(path) as outbox:
        assert await outbox.backlog() == 2
        rows = await outbox.peek(10)
        assert [line for _, line in rows] == lines(2, start=5)
        assert rows[0][0] > last_id
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_set_aside_moves_rows_to_dead_letter_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with Outbox(path) as outbox:
        await outbox.append(["good 1", "bad", "good 2"])
        reader = outbox.reader("influxdb")
        rows = await reader.peek(3)
        await reader.set_aside(rows[1:2], "unable to parse 'bad'")
        await reader.advance(rows[1][0])
        assert [line for _, line in await outbox.peek(3)] == ["good 2"]
        assert await outbox.backlog() == 1
        assert await outbox.dead_letters() == 1
    with sqlite3.connect(path) as db:
        stored = db.execute(
            "SELECT outbox_id, line, reason, set_aside_at_ns, sink FROM dead_letter"
        )
        [(outbox_id, line, reason, at_ns, sink)] = stored.fetchall()
    assert (outbox_id, line, reason, sink) == (
        rows[1][0],
        "bad",
        "unable to parse 'bad'",
        "influxdb",
    )
    assert at_ns > 1_600_000_000 * 10**9


async def test_a_closed_outbox_says_so(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    async with outbox:
        pass
    with pytest.raises(OutboxClosedError) as caught:
        await outbox.append(["x"])
    assert str(caught.value) == f"outbox {tmp_path / 'outbox.db'} is not open"


async def test_the_event_loop_keeps_running_during_a_large_append(tmp_path: Path) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    async with Outbox(tmp_path / "outbox.db") as outbox:
        ticker = asyncio.create_task(tick())
        await outbox.append(lines(200_000))
        ticker.cancel()
        assert ticks > 5
        assert await outbox.backlog() == 200_000


async def test_writer_batches_what_is_waiting(tmp_path: Path) -> None:
    commits: list[int] = []
    async with Outbox(tmp_path / "outbox.db") as outbox:
        writer = OutboxWriter(
            outbox, max_batch=5, max_delay=0, on_commit=lambda: commits.append(writer.written)
        )
        task = asyncio.create_task(writer.run())
        await asyncio.sleep(0)  # run() is now waiting for the first line
        for line in lines(12):
            writer.put_nowait(line)
        await writer.flush()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert commits == [5, 10, 12]
        assert [line for _, line in await outbox.peek(20)] == lines(12)


async def test_flush_racing_a_starting_run_commits_in_order(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "outbox.db") as outbox:
        writer = OutboxWriter(outbox, max_batch=5, max_delay=0)
        for line in lines(12):
            writer.put_nowait(line)
        task = asyncio.create_task(writer.run())
        await writer.flush()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert writer.written == 12
        assert [line for _, line in await outbox.peek(20)] == lines(12)


async def test_writer_waits_up_to_max_delay_to_fill_a_batch(tmp_path: Path) -> None:
    commits: list[int] = []
    async with Outbox(tmp_path / "outbox.db") as outbox:
        writer = OutboxWriter(outbox, max_delay=0.2, on_commit=lambda: commits.append(1))
        task = asyncio.create_task(writer.run())
        for line in lines(4):
            await writer.put(line)
            await asyncio.sleep(0.01)
        await writer.flush()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert commits == [1]
        assert writer.written == 4


async def test_cancelling_run_commits_everything_queued(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with Outbox(path) as outbox:
        writer = OutboxWriter(outbox, max_batch=100, max_delay=1.0)
        task = asyncio.create_task(writer.run())
        for line in lines(1000):
            await writer.put(line)
        await asyncio.sleep(0)  # let run() take a first line and start waiting for more
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert writer.written == 1000
        assert writer.pending == 0
    async with Outbox(path) as outbox:
        assert [line for _, line in await outbox.peek(2000)] == lines(1000)


async def test_close_without_run_commits_and_refuses_more(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "outbox.db") as outbox:
        writer = OutboxWriter(outbox)
        writer.put_nowait("a 1")
        await writer.put("a 2")
        await writer.close()
        assert [line for _, line in await outbox.peek(5)] == ["a 1", "a 2"]
        with pytest.raises(OutboxClosedError) as caught:
            writer.put_nowait("a 3")
        assert str(caught.value) == f"writer for outbox {tmp_path / 'outbox.db'} is closed"


async def test_a_full_writer_pushes_back(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "outbox.db") as outbox:
        writer = OutboxWriter(outbox, maxsize=2)
        writer.put_nowait("a 1")
        writer.put_nowait("a 2")
        with pytest.raises(asyncio.QueueFull):
            writer.put_nowait("a 3")
        blocked = asyncio.create_task(writer.put("a 3"))
        await asyncio.sleep(0.01)
        assert not blocked.done()
        task = asyncio.create_task(writer.run())
        await blocked
        await writer.flush()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await outbox.backlog() == 3


async def test_a_reader_drains_while_the_writer_writes(tmp_path: Path) -> None:
    """A sink-like consumer and a separate SQLite reader never see a line twice or lose one."""
    path = tmp_path / "outbox.db"
    total = 20_000
    delivered: list[str] = []
    async with Outbox(path) as outbox:
        reader = outbox.reader("influxdb")
        writer = OutboxWriter(outbox, max_batch=500, max_delay=0.001)
        writing = asyncio.create_task(writer.run())

        async def produce() -> None:
            for line in lines(total):
                await writer.put(line)
            await writer.flush()

        async def consume() -> None:
            while len(delivered) < total:
                rows = await reader.peek(700)
                delivered.extend(line for _, line in rows)
                if rows:
                    await reader.advance(rows[-1][0])
                await asyncio.sleep(0)

        with sqlite3.connect(path) as other_reader:
            async with asyncio.timeout(20):
                await asyncio.gather(produce(), consume())
            count = other_reader.execute("SELECT count(*) FROM outbox_batch").fetchone()[0]
        writing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writing
        assert delivered == lines(total)
        assert count == 0
        assert await outbox.backlog() == 0


def alarm_line(i: int) -> str:
    return f'alarm_event,device=sd-{i} kind="raised" {i}'


async def test_at_the_cap_the_oldest_readings_go_in_batches_and_alarm_events_stay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.db"
    async with Outbox(path, max_rows=1000, never_drop=["alarm_event"]) as outbox:
        await outbox.append([alarm_line(0), *lines(499)])
        await outbox.append(lines(500, start=499))
        assert (await outbox.backlog(), outbox.dropped) == (1000, 0)
        await outbox.append(lines(2, start=999))  # over the cap: 2 over + 1% of the cap
        assert (await outbox.backlog(), outbox.dropped) == (990, 12)
        kept = [line for _, line in await outbox.peek(2000)]
        assert kept == [alarm_line(0), *lines(989, start=12)]
    [record] = [
        r for r in caplog.records if r.name == "gateway.outbox.store" and r.levelname == "WARNING"
    ]
    assert record.getMessage() == (
        f"outbox {path} is full (cap 1000 lines): dropped the 12 oldest readings, 12 in all"
    )


async def test_a_full_outbox_of_alarm_events_keeps_them_all(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "outbox.db", max_rows=1000, never_drop=["alarm_event"]) as box:
        await box.append([alarm_line(i) for i in range(1005)])
        assert (await box.backlog(), box.dropped) == (1005, 0)


async def test_the_drop_count_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with Outbox(path, max_rows=1000) as outbox:
        await outbox.append(lines(1002))
        assert outbox.dropped == 12
    async with Outbox(path, max_rows=1000) as outbox:
        assert outbox.dropped == 12
        await outbox.append(lines(20, start=1002))  # 1010 lines: 10 over + 1% of the cap
        assert outbox.dropped == 32
    async with Outbox(path) as outbox:  # no cap now: nothing more dropped, the count stays
        await outbox.append(lines(5, start=1022))
        assert outbox.dropped == 32
        assert await outbox.backlog() == 995
    with sqlite3.connect(path) as db:
        assert dict(db.execute("SELECT name, value FROM outbox_counter")) == {"dropped": 32}


async def test_the_drop_count_equals_the_rows_deleted(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    appended = 0
    async with Outbox(path, max_rows=1000, never_drop=["alarm_event"]) as outbox:
        for start in range(0, 5000, 333):
            batch = [alarm_line(start), *lines(332, start=start + 1)]
            await outbox.append(batch)
            appended += len(batch)
        kept = len(await outbox.peek(10_000))
        assert outbox.dropped == appended - kept
        assert outbox.dropped > 3000
    async with Outbox(path) as outbox:
        assert outbox.dropped == appended - kept


async def test_an_outbox_file_from_before_the_drop_count_opens_and_counts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    with sqlite3.connect(path) as db:  # the schema of the first outbox files
        db.executescript("""
            CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL);
            CREATE TABLE dead_letter (id INTEGER PRIMARY KEY AUTOINCREMENT,
                outbox_id INTEGER NOT NULL, line TEXT NOT NULL, reason TEXT NOT NULL,
                set_aside_at_ns INTEGER NOT NULL);
            CREATE TABLE sink_position (sink TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
        """)
        db.executemany("INSERT INTO outbox (line) VALUES (?)", ((line,) for line in lines(999)))
    db.close()
    async with Outbox(path, max_rows=1000) as outbox:
        assert (await outbox.backlog(), outbox.dropped) == (999, 0)
        await outbox.append(lines(2, start=999))
        assert (await outbox.backlog(), outbox.dropped) == (990, 11)
    async with Outbox(path) as outbox:
        assert outbox.dropped == 11
        assert [line for _, line in await outbox.peek(1)] == lines(1, start=11)


async def test_the_backlog_is_counted_from_the_batches_on_opening(tmp_path: Path) -> None:
    """Counting a day's backlog line by line on opening would read the whole file: each
    batch's `kept` is trusted, and only a batch a sink is in the middle of is unpacked. The
    count stays in step with every append, delivery and drop, across reopening."""
    path = tmp_path / "outbox.db"
    async with Outbox(path, sinks=["local", "central"], max_rows=1000) as outbox:
        await outbox.append(lines(600))
        await outbox.append(lines(600, start=600))  # 1200: the cap drops the oldest 210
        rows = await outbox.peek(300)
        await outbox.reader("local").advance(rows[-1][0])
        await outbox.reader("central").advance(rows[99][0])
        assert await outbox.backlog() == 990 - 100 == len(lines_in_file(path))
    async with Outbox(path, sinks=["local"]) as outbox:  # central is gone: its lines go too
        assert await outbox.backlog() == 990 - 300 == len(lines_in_file(path))
    with sqlite3.connect(path) as db:  # a wrong count shows: it is trusted on opening
        db.execute("UPDATE outbox_batch SET kept = 7 WHERE first_id = 601")
    db.close()
    async with Outbox(path, sinks=["local"]) as outbox:
        assert await outbox.backlog() == 90 + 7
