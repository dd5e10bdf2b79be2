"""`Outbox`: line-protocol lines in one SQLite file, a position per sink, and a size cap."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from gateway.sqlitefile import Schema, SqliteFile, StoreClosedError, transaction

__all__ = ["Outbox", "OutboxClosedError", "OutboxReader"]

logger = logging.getLogger(__name__)

Rows = list[tuple[int, str]]
"""Outbox rows as (id, line), oldest first."""

_TABLES = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line TEXT NOT NULL
);
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


def _dead_letters_name_their_sink(db: sqlite3.Connection) -> None:
    """Version 1: a file made before sinks had names has no `dead_letter.sink`."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(dead_letter)")}
    if columns and "sink" not in columns:
        db.execute("ALTER TABLE dead_letter ADD COLUMN sink TEXT")


_SCHEMA = Schema("outbox", 1, _TABLES, steps={1: _dead_letters_name_their_sink})
"""The outbox's layout, version 1 (CHANGELOG.md says what each version changed)."""
_DROPPED = "dropped"  # the `outbox_counter` row of the size cap's drops
_ROWS = "rows"  # the `outbox_counter` row of the lines in the outbox
_ADD_TO_COUNTER = (
    "INSERT INTO outbox_counter (name, value) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
)

DEFAULT_SINK = "influxdb"
"""The sink name of a site with one `influxdb:` connection and no name for it."""


class OutboxClosedError(StoreClosedError):
    """The outbox or its writer was used after it was closed."""


class Outbox(SqliteFile):
    """A first-in, first-out store of line-protocol lines in one SQLite file.

    Several sinks: each name in `sinks` gets a position (the last id it delivered), kept in
    the ``sink_position`` table; a row is deleted once every sink's position has passed it.
    A sink that is down keeps its backlog while the others go on. Positions of sinks no
    longer named are forgotten on opening, so a removed sink never pins the outbox.

    Size cap: with `max_rows`, a commit that takes the outbox over the cap deletes the oldest
    rows, in batches of 1% of the cap, except lines of the `never_drop` measurements (alarm
    events). Every dropped row is counted (`dropped`) and each batch is logged. The newest
    readings matter most for an incident in progress, so the oldest go first. The count is
    kept in the file (table ``outbox_counter``), updated in the transaction that deletes the
    rows, so it survives restarts and a crash can never leave count and deletions apart.

    Durability: the database runs in WAL mode with ``synchronous=NORMAL``. A committed
    `append` survives a crash or kill of the gateway process at any moment. After a power
    loss or OS crash the database is never corrupt, but transactions committed since the WAL
    was last synced, which SQLite does at each checkpoint (by default once about 1000 pages,
    4 MB, of WAL have built up), may be rolled back; that is the price of not waiting for an
    fsync on every batch of an SD card. Lines delivered again after such a rollback overwrite
    themselves in InfluxDB (same series, same timestamp).

    All SQLite work runs on one dedicated worker thread that owns the connection, so the event
    loop never waits on the disk and calls are executed one at a time, in the order they were
    made. Ids only grow (``AUTOINCREMENT``), so an id is never reused after its row is gone.

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
        """Rows dropped by the size cap over the life of the file (loaded on opening)."""
        self.lost = 0
        """Lines that waited in a file found damaged or deleted this run, lost with it."""
        self._drop_query = _drop_query(never_drop)
        self._backlog = 0
        self._positions: dict[str, int] = dict.fromkeys(self.sinks, 0)

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
        return await self._call(self._peek_after, 0, limit)

    async def backlog(self) -> int:
        """How many lines some sink still waits to deliver (the rows in the outbox)."""
        return await self._call(lambda: self._backlog)

    async def dead_letters(self) -> int:
        """How many lines have been set aside as undeliverable."""
        return await self._call(self._count_dead_letters)

    # Everything below runs on the worker thread.

    def _open(self) -> int:
        db = self._connect(_SCHEMA)
        self._backlog = self._stored_rows(db)
        self._load_positions()
        self.dropped = self._counter(_DROPPED)
        return self._backlog

    def _lost(self) -> str:
        """A replacement loses the lines waiting in the file: count them."""
        lost, self._backlog = self._backlog, 0
        self.lost += lost
        return f"{lost} lines waiting for delivery" if lost else ""

    def _stored_rows(self, db: sqlite3.Connection) -> int:
        """The lines in the outbox. They are counted once per file and then kept as a counter,
        in each transaction that adds or deletes lines: `count(*)` reads every page, which
        for a day's backlog (2 GB) on a Pi's SD card would hold up the start for a minute."""
        row = db.execute("SELECT value FROM outbox_counter WHERE name = ?", (_ROWS,)).fetchone()
        if row is not None:
            return int(row[0])
        with transaction(db):
            rows = int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
            db.execute(_ADD_TO_COUNTER, (_ROWS, rows))
        return rows

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
            db.execute("DELETE FROM sink_position")
            self._positions = {sink: stored.get(sink, 0) for sink in self.sinks}
            db.executemany(
                "INSERT INTO sink_position (sink, last_id) VALUES (?, ?)", self._positions.items()
            )
            self._collect(db)

    def _append(self, lines: Sequence[str]) -> None:
        db = self._connection()
        with transaction(db):
            db.executemany("INSERT INTO outbox (line) VALUES (?)", ((line,) for line in lines))
            db.execute(_ADD_TO_COUNTER, (_ROWS, len(lines)))
        self._backlog += len(lines)
        if self.max_rows is not None and self._backlog > self.max_rows:
            self._drop_oldest(self.max_rows)

    def _drop_oldest(self, cap: int) -> None:
        """Delete the oldest droppable rows: down to 1% under the cap, so drops come in batches."""
        db = self._connection()
        wanted = self._backlog - cap + max(1, cap // 100)
        with transaction(db):
            removed = db.execute(self._drop_query, (wanted,)).rowcount
            db.execute(_ADD_TO_COUNTER, (_DROPPED, removed))
            db.execute(_ADD_TO_COUNTER, (_ROWS, -removed))
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

    def _peek_after(self, position: int, limit: int) -> Rows:
        query = "SELECT id, line FROM outbox WHERE id > ? ORDER BY id LIMIT ?"
        return self._connection().execute(query, (position, limit)).fetchall()

    def _peek_for(self, sink: str, limit: int) -> tuple[int, Rows]:
        """The rows after `sink`'s position, and the generation of the file they came from."""
        return self.generation, self._peek_after(self._positions[sink], limit)

    def _advance(self, sink: str, last_id: int, generation: int | None = None) -> int:
        """Move `sink` past `last_id`; delete what every sink has passed; return how many.

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
        """Delete the rows every sink has passed (none without sinks); inside a transaction."""
        if not self._positions:
            return 0
        floor = min(self._positions.values())
        removed: int = db.execute("DELETE FROM outbox WHERE id <= ?", (floor,)).rowcount
        if removed:
            db.execute(_ADD_TO_COUNTER, (_ROWS, -removed))
        self._backlog -= removed
        return removed

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
        query = "SELECT count(*) FROM outbox WHERE id > ?"
        return int(self._connection().execute(query, (position,)).fetchone()[0])

    def _oldest_after(self, position: int) -> str | None:
        query = "SELECT line FROM outbox WHERE id > ? ORDER BY id LIMIT 1"
        row = self._connection().execute(query, (position,)).fetchone()
        return None if row is None else str(row[0])

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


def _drop_query(never_drop: Sequence[str]) -> str:
    """DELETE the oldest rows, up to a limit, that are not of a `never_drop` measurement."""
    keep = "".join(
        f" AND line NOT LIKE '{_like_prefix(name)},%' ESCAPE '\\'" for name in never_drop
    )
    return (
        f"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE 1{keep} ORDER BY id LIMIT ?)"
    )


def _like_prefix(measurement: str) -> str:
    """`measurement` as a LIKE pattern prefix in SQL quotes: wildcards and quotes escaped."""
    escaped = measurement.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("'", "''")
