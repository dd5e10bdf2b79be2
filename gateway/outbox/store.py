"""`Outbox`: line-protocol lines in one SQLite file, a position per sink, and a size cap."""

from __future__ import annotations

import contextlib
import itertools
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Self

from gateway.outbox.batches import BatchCache, pack, unpack
from gateway.sqlitefile import Schema, SqliteFile, StoreClosedError, transaction

__all__ = ["Outbox", "OutboxClosedError", "OutboxReader", "lines_in_file", "read_lines"]

logger = logging.getLogger(__name__)

Rows = list[tuple[int, str]]
"""Outbox rows as (id, line), oldest first."""

_BATCH_TABLE = """
CREATE TABLE IF NOT EXISTS outbox_batch (
    first_id INTEGER PRIMARY KEY,
    last_id INTEGER NOT NULL,
    kept INTEGER NOT NULL,
    lines BLOB NOT NULL
);
"""
"""A row per committed batch (gateway/outbox/batches.py): its lines have the ids `first_id`
to `last_id`; `kept` counts those the size cap has not dropped."""

_TABLES = (
    _BATCH_TABLE
    + """
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL,
    line TEXT NOT NULL,
    reason TEXT NOT NULL,
    set_aside_at_ns INTEGER NOT NULL,
    sink TEXT
);
CREATE TABLE IF NOT EXISTS sink_position (
    sink TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_counter (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
)


BATCH_LINES = 5000
"""Most lines per row: a larger append is several rows in one transaction, so that a reader
never unpacks more than this at once (5,000 lines are about 700 KB unpacked)."""


def _dead_letters_name_their_sink(db: sqlite3.Connection) -> None:
    """Version 1: a file made before sinks had names has no `dead_letter.sink`."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(dead_letter)")}
    if columns and "sink" not in columns:
        db.execute("ALTER TABLE dead_letter ADD COLUMN sink TEXT")


def _lines_kept_in_batches(db: sqlite3.Connection) -> None:
    """Version 2: the waiting lines of a row-per-line `outbox` table move into batches, with
    their ids (a gap the size cap left stays a gap); the table and its row counter go."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'outbox'").fetchone():
        return
    db.execute(_BATCH_TABLE)  # one statement: `executescript` would end the transaction
    batch: list[str] = []
    first_id = 0
    for line_id, line in db.execute("SELECT id, line FROM outbox ORDER BY id"):
        gap = line_id - (first_id + len(batch))
        if batch and (gap > BATCH_LINES or len(batch) >= BATCH_LINES):
            _insert_batch(db, first_id, batch)
            batch = []
        if not batch:
            first_id, gap = line_id, 0
        batch.extend([""] * gap)
        batch.append(line)
    if batch:
        _insert_batch(db, first_id, batch)
    db.execute("DROP TABLE outbox")
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'outbox_counter'").fetchone():
        db.execute("DELETE FROM outbox_counter WHERE name = 'rows'")


_SCHEMA = Schema(
    "outbox",
    2,
    _TABLES,
    steps={1: _dead_letters_name_their_sink, 2: _lines_kept_in_batches},
    page_size=1024,
)
"""The outbox's layout, version 2 (CHANGELOG.md says what each version changed). Pages of
1 KB: a commit rewrites every page it touches, so small pages write less for the same rows."""
_DROPPED = "dropped"  # the `outbox_counter` row of the size cap's drops
_ADD_TO_COUNTER = (
    "INSERT INTO outbox_counter (name, value) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
)
_AFTER = (
    " FROM outbox_batch WHERE first_id >= coalesce("
    "(SELECT max(first_id) FROM outbox_batch WHERE first_id <= ?), 0) ORDER BY first_id"
)
"""The batches holding lines after a position, oldest first (the first may hold lines up to
it, too): found through the primary key alone."""
_BATCHES_AFTER = "SELECT first_id, lines" + _AFTER
_NEXT_BATCH = (
    "SELECT first_id, lines FROM outbox_batch WHERE first_id > ? ORDER BY first_id LIMIT 1"
)
_SPANS_AFTER = "SELECT first_id, last_id, kept" + _AFTER  # without reading the lines


def _insert_batch(db: sqlite3.Connection, first_id: int, lines: Sequence[str]) -> None:
    db.execute(
        "INSERT INTO outbox_batch (first_id, last_id, kept, lines) VALUES (?, ?, ?, ?)",
        (first_id, first_id + len(lines) - 1, sum(1 for line in lines if line), pack(lines)),
    )


DEFAULT_SINK = "influxdb"
"""The sink name of a site with one `influxdb:` connection and no name for it."""


class OutboxClosedError(StoreClosedError):
    """The outbox or its writer was used after it was closed."""


class Outbox(SqliteFile):
    """A first-in, first-out store of line-protocol lines in one SQLite file.

    Each `append` is one row, a batch of lines compressed (gateway/outbox/batches.py); every
    line has an id of its own, the next one after the last line ever appended, and reads come
    back as (id, line) as if each line were a row.

    Several sinks: each name in `sinks` gets a position (the last id it delivered), kept in
    the ``sink_position`` table; a batch is deleted once every sink's position has passed its
    last line. A sink that is down keeps its backlog while the others go on. Positions of
    sinks no longer named are forgotten on opening, so a removed sink never pins the outbox.

    Size cap: with `max_rows`, a commit that takes the outbox over the cap (in lines) drops
    the oldest lines, down to 1% under the cap, except lines of the `never_drop` measurements
    (alarm events). Every dropped line is counted (`dropped`) and each drop is logged. The
    newest readings matter most for an incident in progress, so the oldest go first. The count
    is kept in the file (table ``outbox_counter``), updated in the transaction that drops the
    lines, so it survives restarts and a crash can never leave count and drops apart.

    Durability: the database runs in WAL mode with ``synchronous=NORMAL``. A committed
    `append` survives a crash or kill of the gateway process at any moment. After a power
    loss or OS crash the database is never corrupt, but transactions committed since the WAL
    was last synced, which SQLite does at each checkpoint (by default once about 1000 pages,
    1 MB here, of WAL have built up), may be rolled back; that is the price of not waiting for
    an fsync on every batch of an SD card. Lines delivered again after such a rollback
    overwrite themselves in InfluxDB (same series, same timestamp).

    All SQLite work runs on one dedicated worker thread that owns the connection, so the event
    loop never waits on the disk and calls are executed one at a time, in the order they were
    made. Ids only grow, also across restarts (the next id is one past the newest batch and
    every sink's position), so an id is never reused for another line while a sink knows it.

    Damage (gateway/sqlitefile.py): a damaged, emptied or deleted file is replaced by a fresh
    one and the gateway goes on storing; the lines that waited in it are counted in `lost`. A
    sink that read rows from the old file cannot move its position in the new one with them
    (`OutboxReader` knows which file its rows came from), so it starts the new file at its
    first line.

    Use as ``async with Outbox(path) as outbox:``; entering creates the parent directories and
    the schema, leaving closes the connection after every call already made has finished.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        sinks: Sequence[str] = (DEFAULT_SINK,),
        max_rows: int | None = None,
        never_drop: Sequence[str] = (),
    ) -> None:
        super().__init__(path)
        self.sinks = tuple(sinks)
        self.max_rows = max_rows
        self.dropped = 0
        """Lines dropped by the size cap over the life of the file (loaded on opening)."""
        self.lost = 0
        """Lines that waited in a file found damaged or deleted this run, lost with it."""
        self._never_drop = tuple(f"{name}," for name in never_drop)
        self._backlog = 0
        self._next_id = 1
        self._floor = 0
        """The lowest position: every line up to it has left the backlog."""
        self._positions: dict[str, int] = dict.fromkeys(self.sinks, 0)
        self._batches = BatchCache()

    what = "outbox"
    closed_error = OutboxClosedError

    async def __aenter__(self) -> Self:
        if await self._start(self._open) is not None:
            logger.info("outbox %s opened with %d lines waiting", self.path, self._backlog)
        return self

    def reader(self, sink: str) -> OutboxReader:
        """The reader of `sink`; raises `LookupError` if the outbox was not opened with it."""
        if sink not in self.sinks:
            raise LookupError(f"outbox {self.path} has no sink {sink!r} (it has {self.sinks})")
        return OutboxReader(self, sink)

    async def append(self, lines: Sequence[str]) -> None:
        """Store `lines` in one transaction; they are accepted once this returns."""
        if lines:
            await self._call(self._append, lines)

    async def peek(self, limit: int) -> Rows:
        """Return up to `limit` of the oldest lines as (id, line), whichever sink waits."""
        return await self._call(lambda: self._peek_after(self._floor, limit))

    async def backlog(self) -> int:
        """How many lines some sink still waits to deliver."""
        return await self._call(lambda: self._backlog)

    async def accepted(self) -> int:
        """The id of the newest line: how many lines this file has accepted since it was made."""
        return await self._call(lambda: self._next_id - 1)

    async def dead_letters(self) -> int:
        """How many lines have been set aside as undeliverable."""
        return await self._call(self._count_dead_letters)

    # Everything below runs on the worker thread.

    def _open(self) -> int:
        db = self._connect(_SCHEMA)
        self._batches.forget()
        newest = db.execute("SELECT max(last_id) FROM outbox_batch").fetchone()[0]
        self._next_id = (newest or 0) + 1
        self._load_positions()
        self._backlog = self._kept_between(self._floor, None)
        self.dropped = self._counter(_DROPPED)
        return self._backlog

    def _lost(self) -> str:
        """A replacement loses the lines waiting in the file: count them."""
        lost, self._backlog = self._backlog, 0
        self.lost += lost
        return f"{lost} lines waiting for delivery" if lost else ""

    def _counter(self, name: str) -> int:
        """A counter of the `outbox_counter` table; 0 if it was never counted (older files)."""
        query = "SELECT value FROM outbox_counter WHERE name = ?"
        row = self._connection().execute(query, (name,)).fetchone()
        return 0 if row is None else int(row[0])

    def _load_positions(self) -> None:
        """Positions of this run's sinks (0 for a new one); forget the others, then collect."""
        db = self._connection()
        with transaction(db):
            stored = dict(db.execute("SELECT sink, last_id FROM sink_position").fetchall())
            self._next_id = max([self._next_id, *(last + 1 for last in stored.values())])
            db.execute("DELETE FROM sink_position")
            self._positions = {sink: stored.get(sink, 0) for sink in self.sinks}
            self._floor = min(self._positions.values(), default=0)
            db.executemany(
                "INSERT INTO sink_position (sink, last_id) VALUES (?, ?)", self._positions.items()
            )
            self._collect(db)

    def _append(self, lines: Sequence[str]) -> None:
        db = self._connection()
        with transaction(db):
            for start in range(0, len(lines), BATCH_LINES):
                _insert_batch(db, self._next_id + start, lines[start : start + BATCH_LINES])
        self._next_id += len(lines)
        self._backlog += len(lines)
        if self.max_rows is not None and self._backlog > self.max_rows:
            self._drop_oldest(self.max_rows)

    def _drop_oldest(self, cap: int) -> None:
        """Drop the oldest droppable lines: down to 1% under the cap, so drops come in batches."""
        db = self._connection()
        wanted = self._backlog - cap + max(1, cap // 100)
        floor = min(self._positions.values(), default=0)
        removed = 0
        with transaction(db):
            batch = db.execute(_BATCHES_AFTER + " LIMIT 1", (floor,)).fetchone()
            while batch is not None and removed < wanted:
                first_id, blob = batch
                lines = list(self._batches.lines(first_id, blob))
                for index in range(max(0, floor + 1 - first_id), len(lines)):
                    line = lines[index]
                    if line and not line.startswith(self._never_drop):
                        lines[index] = ""
                        removed += 1
                        if removed >= wanted:
                            break
                self._rewrite(db, first_id, lines)
                batch = db.execute(_NEXT_BATCH, (first_id,)).fetchone()
            db.execute(_ADD_TO_COUNTER, (_DROPPED, removed))
        self._backlog -= removed
        self.dropped += removed
        logger.warning(
            "outbox %s is full (cap %d lines): dropped the %d oldest readings, %d in all%s",
            self.path,
            cap,
            removed,
            self.dropped,
            "" if removed else "; only alarm events are left, which are never dropped",
        )

    def _rewrite(self, db: sqlite3.Connection, first_id: int, lines: list[str]) -> None:
        """Store a batch again after drops; one with nothing left goes."""
        self._batches.forget(first_id)
        kept = sum(1 for line in lines if line)
        if kept:
            db.execute(
                "UPDATE outbox_batch SET kept = ?, lines = ? WHERE first_id = ?",
                (kept, pack(lines), first_id),
            )
        else:
            db.execute("DELETE FROM outbox_batch WHERE first_id = ?", (first_id,))

    def _lines_after(self, position: int) -> Iterator[tuple[int, str]]:
        """Every line after `position` as (id, line), oldest first, read as they are needed."""
        for first_id, blob in self._connection().execute(_BATCHES_AFTER, (position,)):
            lines = self._batches.lines(first_id, blob)
            for index in range(max(0, position + 1 - first_id), len(lines)):
                if lines[index]:
                    yield first_id + index, lines[index]

    def _peek_after(self, position: int, limit: int) -> Rows:
        return list(itertools.islice(self._lines_after(position), limit))

    def _peek_for(self, sink: str, limit: int) -> tuple[int, Rows]:
        """The rows after `sink`'s position, and the generation of the file they came from."""
        return self.generation, self._peek_after(self._positions[sink], limit)

    def _advance(self, sink: str, last_id: int, generation: int | None = None) -> int:
        """Move `sink` past `last_id`; delete what every sink has passed; return how many
        lines no sink waits for any more.

        Ids read from a file that has since been replaced (`generation`) mean nothing in the
        new one: such a call changes nothing.
        """
        if generation is not None and generation != self.generation:
            return 0
        db = self._connection()
        with transaction(db):
            db.execute("UPDATE sink_position SET last_id = ? WHERE sink = ?", (last_id, sink))
            self._positions[sink] = max(self._positions[sink], last_id)
            return self._collect(db)

    def _collect(self, db: sqlite3.Connection) -> int:
        """Delete the batches every sink has passed (none without sinks); inside a
        transaction. Returns how many lines left the backlog."""
        if not self._positions:
            return 0
        floor = min(self._positions.values())
        passed = self._kept_between(self._floor, floor) if floor > self._floor else 0
        gone = db.execute("SELECT first_id FROM outbox_batch WHERE last_id <= ?", (floor,))
        for (first_id,) in gone.fetchall():
            self._batches.forget(first_id)
        db.execute("DELETE FROM outbox_batch WHERE last_id <= ?", (floor,))
        self._floor = max(self._floor, floor)
        self._backlog -= passed
        return passed

    def _kept_between(self, after: int, upto: int | None) -> int:
        """How many lines, not dropped, have ids after `after` and up to `upto` (None: the
        newest). Batches wholly inside are counted by their `kept`; only a batch at either end
        is unpacked."""
        upto = self._next_id - 1 if upto is None else upto
        db = self._connection()
        count = 0
        for first_id, last_id, kept in db.execute(_SPANS_AFTER, (after,)):
            if first_id > upto:
                break
            if first_id > after and last_id <= upto:
                count += kept
                continue
            (blob,) = db.execute(
                "SELECT lines FROM outbox_batch WHERE first_id = ?", (first_id,)
            ).fetchone()
            lines = self._batches.lines(first_id, blob)
            inside = lines[max(0, after + 1 - first_id) : upto + 1 - first_id]
            count += sum(1 for line in inside if line)
        return count

    def _set_aside(
        self,
        sink: str,
        rows: Sequence[tuple[int, str]],
        reason: str,
        generation: int | None = None,
    ) -> None:
        if generation is not None and generation != self.generation:
            return  # rows of a replaced file; the new one never had them
        db = self._connection()
        now = time.time_ns()
        with transaction(db):
            db.executemany(
                "INSERT INTO dead_letter (outbox_id, line, reason, set_aside_at_ns, sink)"
                " VALUES (?, ?, ?, ?, ?)",
                ((row_id, line, reason, now, sink) for row_id, line in rows),
            )

    def _count_after(self, position: int) -> int:
        return self._kept_between(position, None)

    def _oldest_after(self, position: int) -> str | None:
        return next((line for _, line in self._lines_after(position)), None)

    def _count_dead_letters(self) -> int:
        return int(self._connection().execute("SELECT count(*) FROM dead_letter").fetchone()[0])


class OutboxReader:
    """One sink's view of the outbox: the lines after its position, oldest first.

    Made by `Outbox.reader`. The sink `peek`s, sends, and `advance`s only after its server
    acknowledged the lines, so a crash between the two sends them again (at least once).
    """

    def __init__(self, outbox: Outbox, sink: str) -> None:
        self.outbox = outbox
        self.sink = sink
        self._generation: int | None = None
        """The generation of the file the last `peek` read from."""

    @property
    def position(self) -> int:
        """The id of the last line this sink has delivered or set aside (0 for none)."""
        return self.outbox._positions[self.sink]

    async def peek(self, limit: int) -> Rows:
        """Up to `limit` of the oldest lines this sink has not delivered, as (id, line)."""
        self._generation, rows = await self.outbox._call(self.outbox._peek_for, self.sink, limit)
        return rows

    async def advance(self, last_id: int) -> int:
        """Mark every line up to `last_id` delivered by this sink; return how many rows left
        the outbox because every sink has now passed them."""
        outbox = self.outbox
        return await outbox._call(outbox._advance, self.sink, last_id, self._generation)

    async def set_aside(self, rows: Sequence[tuple[int, str]], reason: str) -> None:
        """Record `rows` (as returned by `peek`) in the dead-letter table with `reason`.

        For lines this sink's server rejected as malformed: retrying them forever would block
        every line behind them, and dropping them would lose data without a trace. The rows
        stay in the outbox for the other sinks; `advance` moves this sink past them.
        """
        if rows:
            outbox = self.outbox
            await outbox._call(outbox._set_aside, self.sink, rows, reason, self._generation)

    async def backlog(self) -> int:
        """How many lines this sink has yet to deliver (a count: slow for huge backlogs)."""
        return await self.outbox._call(self.outbox._count_after, self.position)

    async def oldest_observed_at(self) -> int | None:
        """The timestamp (ns) of the oldest line this sink has yet to deliver, if any."""
        line = await self.outbox._call(self.outbox._oldest_after, self.position)
        if line is None:
            return None
        try:
            return int(line.rsplit(" ", 1)[1])
        except (IndexError, ValueError):
            return None  # a line without a timestamp: the server stamps it on arrival


def lines_in_file(path: Path | str) -> Rows:
    """The lines waiting in the outbox file at `path` as (id, line), oldest first: `read_lines`
    as a list."""
    return list(read_lines(path))


def read_lines(path: Path | str) -> Iterator[tuple[int, str]]:
    """The lines waiting in the outbox file at `path` as (id, line), oldest first, read batch
    by batch from outside while a gateway may be writing it (or was killed writing it):
    opened read-only, never created. Lines every sink has passed are left out; nothing before
    the file or its tables exist."""
    if not Path(path).exists():
        return
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        try:
            floor = db.execute("SELECT min(last_id) FROM sink_position").fetchone()[0] or 0
            batches = db.execute(_BATCHES_AFTER, (floor,))
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return
            raise
        for first_id, blob in batches:
            for index, line in enumerate(unpack(blob)):
                if line and first_id + index > floor:
                    yield first_id + index, line
