"""The outbox keeps a batch of lines per row, compressed: ids, positions and the file's layout."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.outbox import Outbox
from gateway.outbox.store import BATCH_LINES, lines_in_file


def lines(count: int, start: int = 0) -> list[str]:
    return [
        f"hydrant_pressure,device=HP-{i % 5} pressure=0.4{i % 10} {i}"
        for i in range(start, start + count)
    ]


async def test_a_sink_stopped_inside_a_batch_goes_on_from_its_line(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with Outbox(path) as outbox:
        await outbox.append(lines(100))
        await outbox.append(lines(100, start=100))
        reader = outbox.reader("influxdb")
        rows = await reader.peek(30)
        await reader.advance(rows[-1][0])
        assert await outbox.backlog() == 170
    async with Outbox(path) as outbox:
        assert await outbox.backlog() == 170
        rows = await outbox.reader("influxdb").peek(1000)
        assert [line for _, line in rows] == lines(170, start=30)
        assert [row_id for row_id, _ in rows] == list(range(31, 201))
    assert lines_in_file(path) == rows


async def test_a_batch_every_sink_has_passed_leaves_the_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with Outbox(path, sinks=["local", "central"]) as outbox:
        for start in range(0, 300, 100):
            await outbox.append(lines(100, start=start))
        await outbox.reader("local").advance(300)
        await outbox.reader("central").advance(150)
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT first_id, last_id FROM outbox_batch").fetchall() == [
                (101, 200),
                (201, 300),
            ]
        db.close()


async def test_new_files_have_small_pages_and_old_ones_keep_theirs(tmp_path: Path) -> None:
    """A commit rewrites whole pages: 1 KB pages write a quarter of 4 KB ones for a small row."""
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL)")
        db.executemany("INSERT INTO outbox (line) VALUES (?)", ((line,) for line in lines(10)))
    db.close()
    async with Outbox(tmp_path / "new.db"), Outbox(old) as upgraded:
        assert len(await upgraded.peek(100)) == 10
    for path, size in ((tmp_path / "new.db", 1024), (old, 4096)):
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA page_size").fetchone() == (size,)
        db.close()


async def test_an_old_outbox_with_a_wide_gap_keeps_every_id(tmp_path: Path) -> None:
    """The size cap of the row-per-line layout left gaps; the conversion keeps ids as they were."""
    path = tmp_path / "outbox.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL)")
        rows = [(i, line) for i, line in enumerate(lines(10), start=1)]
        rows += [(i, line) for i, line in enumerate(lines(10, start=10), start=20_001)]
        db.executemany("INSERT INTO outbox (id, line) VALUES (?, ?)", rows)
    db.close()
    async with Outbox(path) as outbox:
        assert await outbox.backlog() == 20
        assert await outbox.peek(100) == rows
        await outbox.append(lines(1, start=20))
        assert (await outbox.peek(100))[-1] == (20_011, lines(1, start=20)[0])


async def test_a_large_append_is_several_rows_of_one_transaction(tmp_path: Path) -> None:
    """A reader never unpacks more than `BATCH_LINES` at once, whatever the append."""
    path = tmp_path / "outbox.db"
    async with Outbox(path) as outbox:
        await outbox.append(lines(BATCH_LINES * 2 + 7))
        rows = await outbox.peek(BATCH_LINES * 3)
        assert [row_id for row_id, _ in rows] == list(range(1, BATCH_LINES * 2 + 8))
    with sqlite3.connect(path) as db:
        spans = db.execute("SELECT first_id, last_id FROM outbox_batch ORDER BY first_id")
        assert spans.fetchall() == [
            (1, BATCH_LINES),
            (BATCH_LINES + 1, 2 * BATCH_LINES),
            (2 * BATCH_LINES + 1, 2 * BATCH_LINES + 7),
        ]
    db.close()
