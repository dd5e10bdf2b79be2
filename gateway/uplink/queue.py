"""The uplink's queue on disk: what the centre has yet to acknowledge, and how far it has read.

One SQLite file beside the outbox (`<outbox>-uplink.sqlite`, 0600, replaced when damaged like
the other stores: gateway/sqlitefile.py) holds, in one transaction per step:

- the *mark*: the sequence number of the last alarm-store event taken (with its alarm and
  time, to notice an alarm store that was replaced and numbers its events afresh);
- the *messages* taken from those events and not yet acknowledged, each with its DC-09
  sequence number once it has been sent: a retransmission, after a restart too, carries the
  same number, so a receiver that saw it already can tell;
- what the centre has been *told* of each alarm (`Told`), so a restore follows only a raise;
- each account's last sequence number;
- the messages the receiver said it does not understand (DUH), *set aside* with the reason.

A message is deleted only once the receiver acknowledged it. Taking events and queueing their
messages is one transaction, so a crash either took an event or did not: none is lost, none
queued twice.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from gateway.sqlitefile import Schema, SqliteFile, StoreClosedError, transaction
from gateway.uplink.messages import Message
from gateway.uplink.reporting import Told
from rules import AlarmEvent

__all__ = ["Mark", "Queued", "UplinkQueue", "UplinkQueueClosedError"]

log = logging.getLogger(__name__)

LAST_SEQUENCE = 9999
"""DC-09 numbers messages 0001 to 9999, then 0001 again."""

_TABLES = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rank INTEGER NOT NULL,
    account TEXT NOT NULL,
    message TEXT NOT NULL,
    sequence INTEGER,
    queued_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_in_order ON messages (rank, id);
CREATE TABLE IF NOT EXISTS told (
    alarm_id TEXT PRIMARY KEY,
    told INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sequences (
    account TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mark (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL,
    alarm_id TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS set_aside (
    id INTEGER PRIMARY KEY,
    message TEXT NOT NULL,
    sequence INTEGER,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL
);
"""
_SCHEMA = Schema("uplink queue", 1, _TABLES)

Decide = Callable[[AlarmEvent, Told | None], tuple[Message | None, Told | None]]


class UplinkQueueClosedError(StoreClosedError):
    """The uplink queue was used while it was not open."""


@dataclass(frozen=True, slots=True)
class Mark:
    """The last alarm-store event taken: its sequence number, alarm and time (0 for none)."""

    seq: int
    alarm_id: str = ""
    at: int = 0

    @classmethod
    def of(cls, seq: int, event: AlarmEvent) -> Self:
        return cls(seq, event.alarm_id, event.at)

    def is_of(self, seq: int, event: AlarmEvent) -> bool:
        return (seq, event.alarm_id, event.at) == (self.seq, self.alarm_id, self.at)


@dataclass(frozen=True, slots=True)
class Queued:
    """A message next in line, with its place in the queue and its sequence number."""

    id: int
    message: Message
    sequence: int
    retransmission: bool
    """Whether it was sent before (this run or an earlier one) without an acknowledgement."""


class UplinkQueue(SqliteFile):
    """The uplink's messages and position on disk; see the module.

    Like the other stores, every call runs on one worker thread that owns the connection, in
    order. `started` is False for a fresh file (new, or replaced because it was damaged): the
    uplink then `begin`s it from the alarm store before taking events.

    Use as ``async with UplinkQueue(path) as queue:``.
    """

    what = "uplink queue"
    closed_error = UplinkQueueClosedError

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self.started = False

    async def __aenter__(self) -> Self:
        await self._start(self._open)
        return self

    async def mark(self) -> Mark:
        """The last alarm-store event taken."""
        return await self._call(self._mark)

    async def begin(self, mark: Mark, snapshot: Sequence[tuple[Message, Told]]) -> None:
        """Start a fresh queue at `mark`, with what a centre that knows nothing is sent of the
        alarms there are (`Reporter.snapshot`)."""
        await self._call(self._begin, mark, snapshot)

    async def restart_at(self, mark: Mark) -> None:
        """Take the alarm store's events from `mark` on (the store was replaced), keeping the
        messages queued and what the centre was told."""
        await self._call(self._set_mark, mark)

    async def take(self, events: Sequence[tuple[int, AlarmEvent]], decide: Decide) -> int:
        """Queue what `decide` makes of each event, in order, and move the mark past them, in
        one transaction; returns how many messages were queued."""
        return await self._call(self._take, events, decide)

    async def next(self) -> Queued | None:
        """The first message in line (fire first, then in the order taken), numbered now if
        it never was; None when the queue is empty."""
        return await self._call(self._next)

    async def delivered(self, queued: Queued) -> None:
        """The receiver acknowledged it: it leaves the queue."""
        await self._call(self._delete, queued.id)

    async def set_aside(self, queued: Queued, reason: str) -> None:
        """The receiver will not take it (it does not understand it): kept aside, with why."""
        await self._call(self._set_aside, queued, reason)

    async def link_test_sequence(self, account: str) -> int:
        """The next sequence number of `account`, for a link test."""
        return await self._call(self._numbered, account)

    async def backlog(self) -> tuple[int, int | None, int]:
        """Messages waiting, when the oldest was queued (wall-clock ns), messages set aside."""
        return await self._call(self._backlog)

    async def set_aside_messages(self) -> list[tuple[Message, str]]:
        """Every message set aside, oldest first, with the reason."""
        return await self._call(self._set_aside_messages)

    # Everything below runs on the worker thread.

    def _open(self) -> None:
        db = self._connect(_SCHEMA)
        self.started = db.execute("SELECT count(*) FROM mark").fetchone()[0] > 0

    def _lost(self) -> str:
        return "the messages waiting for the receiver's acknowledgement"

    def _mark(self) -> Mark:
        row = self._connection().execute("SELECT seq, alarm_id, at FROM mark").fetchone()
        return Mark(*row) if row is not None else Mark(0)

    def _begin(self, mark: Mark, snapshot: Sequence[tuple[Message, Told]]) -> None:
        db = self._connection()
        with transaction(db):
            for message, told in snapshot:
                self._queue(db, message)
                self._tell(db, message.alarm_id, told)
            self._write_mark(db, mark)
        self.started = True

    def _set_mark(self, mark: Mark) -> None:
        db = self._connection()
        with transaction(db):
            self._write_mark(db, mark)

    def _take(self, events: Sequence[tuple[int, AlarmEvent]], decide: Decide) -> int:
        db = self._connection()
        queued = 0
        told = self._told(db, {event.alarm_id for _, event in events})
        with transaction(db):
            for _, event in events:
                message, after = decide(event, told.get(event.alarm_id))
                if message is not None:
                    self._queue(db, message)
                    queued += 1
                if after != told.get(event.alarm_id):
                    self._tell(db, event.alarm_id, after)
                    told[event.alarm_id] = after
            if events:
                self._write_mark(db, Mark.of(*events[-1]))
        return queued

    def _next(self) -> Queued | None:
        db = self._connection()
        row = db.execute(
            "SELECT id, account, message, sequence FROM messages ORDER BY rank, id LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        number, account, text, sequence = row
        if sequence is not None:
            return Queued(number, Message.from_json(text), sequence, retransmission=True)
        with transaction(db):
            sequence = self._next_sequence(db, account)
            db.execute("UPDATE messages SET sequence = ? WHERE id = ?", (sequence, number))
        return Queued(number, Message.from_json(text), sequence, retransmission=False)

    def _delete(self, number: int) -> None:
        db = self._connection()
        with transaction(db):
            db.execute("DELETE FROM messages WHERE id = ?", (number,))

    def _set_aside(self, queued: Queued, reason: str) -> None:
        db = self._connection()
        with transaction(db):
            db.execute("DELETE FROM messages WHERE id = ?", (queued.id,))
            db.execute(
                "INSERT OR REPLACE INTO set_aside (id, message, sequence, reason, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (queued.id, queued.message.to_json(), queued.sequence, reason, time.time_ns()),
            )

    def _numbered(self, account: str) -> int:
        db = self._connection()
        with transaction(db):
            return self._next_sequence(db, account)

    def _backlog(self) -> tuple[int, int | None, int]:
        db = self._connection()
        count, oldest = db.execute("SELECT count(*), min(queued_at) FROM messages").fetchone()
        aside = db.execute("SELECT count(*) FROM set_aside").fetchone()[0]
        return int(count), oldest, int(aside)

    def _set_aside_messages(self) -> list[tuple[Message, str]]:
        rows = self._connection().execute("SELECT message, reason FROM set_aside ORDER BY id")
        return [(Message.from_json(text), reason) for text, reason in rows]

    @staticmethod
    def _queue(db: sqlite3.Connection, message: Message) -> None:
        db.execute(
            "INSERT INTO messages (rank, account, message, queued_at) VALUES (?, ?, ?, ?)",
            (message.rank, message.account, message.to_json(), time.time_ns()),
        )

    @staticmethod
    def _told(db: sqlite3.Connection, alarms: set[str]) -> dict[str, Told | None]:
        told: dict[str, Told | None] = {}
        for alarm_id in alarms:
            row = db.execute("SELECT told FROM told WHERE alarm_id = ?", (alarm_id,)).fetchone()
            if row is not None:
                told[alarm_id] = Told(row[0])
        return told

    @staticmethod
    def _tell(db: sqlite3.Connection, alarm_id: str, told: Told | None) -> None:
        if told is None:
            db.execute("DELETE FROM told WHERE alarm_id = ?", (alarm_id,))
            return
        db.execute(
            "INSERT INTO told (alarm_id, told) VALUES (?, ?) "
            "ON CONFLICT (alarm_id) DO UPDATE SET told = excluded.told",
            (alarm_id, int(told)),
        )

    @staticmethod
    def _write_mark(db: sqlite3.Connection, mark: Mark) -> None:
        db.execute(
            "INSERT OR REPLACE INTO mark (one, seq, alarm_id, at) VALUES (1, ?, ?, ?)",
            (mark.seq, mark.alarm_id, mark.at),
        )

    @staticmethod
    def _next_sequence(db: sqlite3.Connection, account: str) -> int:
        row = db.execute("SELECT last FROM sequences WHERE account = ?", (account,)).fetchone()
        number = (row[0] % LAST_SEQUENCE) + 1 if row is not None else 1
        db.execute(
            "INSERT INTO sequences (account, last) VALUES (?, ?) "
            "ON CONFLICT (account) DO UPDATE SET last = excluded.last",
            (account, number),
        )
        return number
