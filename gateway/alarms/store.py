"""The alarm store: every alarm that is not gone, and the history of every event, on disk.

After ISA-18.2: a restart neither loses an unacknowledged alarm nor raises an acknowledged
one again. The service records each batch of events here before it publishes them, and after
a restart hands `load()` to `RuleEngine.restore`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from gateway.alarms.payloads import is_gone
from gateway.sqlitefile import SqliteFile, StoreClosedError, transaction
from rules import Alarm, AlarmEvent

__all__ = ["AlarmStore", "AlarmStoreClosedError"]

logger = logging.getLogger(__name__)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY,
    alarm TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    by TEXT,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_alarm ON events (alarm_id, seq);
"""

PRUNE_EVERY = 1000
"""Recorded events between two checks of the history's size."""


class AlarmStoreClosedError(StoreClosedError):
    """The alarm store was used while it was not open."""


class AlarmStore(SqliteFile):
    """Current alarms and the event history in one SQLite file (WAL mode).

    Like the outbox, all SQLite work runs on one dedicated worker thread that owns the
    connection, so the event loop never waits on the disk and calls run in the order they
    were made. A `record` is durable once it returns (it survives a kill of the gateway; after
    a power loss the last moments may be rolled back, never corrupted, as for the outbox).

    The history is the local record for the alarm screens and the CLI; InfluxDB keeps the
    long-term one. It keeps the newest `keep_events` events (default 100,000, tens of MB) so
    the SD card never fills up; older ones are deleted, oldest first.

    Use as ``async with AlarmStore(path) as store:``.
    """

    def __init__(self, path: Path | str, *, keep_events: int = 100_000) -> None:
        if keep_events < 1:
            raise ValueError(f"alarm store: keep_events must be at least 1, got {keep_events!r}")
        super().__init__(path)
        self.keep_events = keep_events
        self._since_prune = 0

    what = "alarm store"
    closed_error = AlarmStoreClosedError

    async def __aenter__(self) -> Self:
        count = await self._start(self._open)
        logger.info("alarm store %s opened with %d current alarms", self.path, count)
        return self

    async def load(self) -> list[Alarm]:
        """Every stored alarm that is not gone, for `RuleEngine.restore` after a restart.

        A record that cannot be read back (written by an incompatible version, say) is logged
        and skipped rather than stopping the gateway from starting.
        """
        return await self._call(self._load)

    async def record(self, events: Sequence[AlarmEvent]) -> None:
        """Append `events` to the history and update each alarm's state, in one transaction.

        Events are applied in order, so the last event of an alarm decides its stored state; an
        alarm that is gone after its event is deleted from the current alarms.
        """
        if events:
            await self._call(self._record, events)

    async def history(self, alarm_id: str | None = None, limit: int = 100) -> list[AlarmEvent]:
        """The newest `limit` events (of one alarm, or of all), oldest first."""
        return await self._call(self._history, alarm_id, limit)

    # Everything below runs on the worker thread.

    def _open(self) -> int:
        db = self._connect(_SCHEMA)
        return int(db.execute("SELECT count(*) FROM alarms").fetchone()[0])

    def _load(self) -> list[Alarm]:
        alarms = []
        for alarm_id, text in self._connection().execute("SELECT id, alarm FROM alarms"):
            try:
                alarms.append(Alarm.from_dict(json.loads(text)))
            except (ValueError, TypeError) as error:
                logger.error(
                    "alarm store %s: skipping unreadable alarm %s: %s", self.path, alarm_id, error
                )
        return alarms

    def _record(self, events: Sequence[AlarmEvent]) -> None:
        db = self._connection()
        with transaction(db):
            db.executemany(
                "INSERT INTO events (alarm_id, kind, at, by, event) VALUES (?, ?, ?, ?, ?)",
                ((e.alarm_id, str(e.kind), e.at, e.by, json.dumps(e.to_dict())) for e in events),
            )
            for event in events:
                self._keep_state(db, event.alarm)
            self._since_prune += len(events)
            if self._since_prune >= min(PRUNE_EVERY, self.keep_events):
                self._prune(db)

    @staticmethod
    def _keep_state(db: sqlite3.Connection, alarm: Alarm) -> None:
        if is_gone(alarm):
            db.execute("DELETE FROM alarms WHERE id = ?", (alarm.id,))
            return
        db.execute(
            "INSERT INTO alarms (id, alarm, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) "
            "DO UPDATE SET alarm = excluded.alarm, updated_at = excluded.updated_at",
            (alarm.id, json.dumps(alarm.to_dict()), alarm.updated_at),
        )

    def _prune(self, db: sqlite3.Connection) -> None:
        """Keep the newest `keep_events` events."""
        self._since_prune = 0
        removed = db.execute(
            "DELETE FROM events WHERE seq <= (SELECT max(seq) FROM events) - ?",
            (self.keep_events,),
        ).rowcount
        if removed:
            logger.info(
                "alarm store %s: removed the %d oldest events of the history", self.path, removed
            )

    def _history(self, alarm_id: str | None, limit: int) -> list[AlarmEvent]:
        args: tuple[object, ...] = (limit,) if alarm_id is None else (alarm_id, limit)
        where = "" if alarm_id is None else "WHERE alarm_id = ?"
        query = f"SELECT event FROM events {where} ORDER BY seq DESC LIMIT ?"
        rows = self._connection().execute(query, args).fetchall()
        return [AlarmEvent.from_dict(json.loads(text)) for (text,) in reversed(rows)]
