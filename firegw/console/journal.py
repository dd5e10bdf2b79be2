"""The console's journal: every alarm event it has seen on the feed, kept for some days, for
an alarm's history and a search over the last days.

The feed's events are not retained, so the console keeps its own record (SQLite, WAL).
An event is identified by site, alarm, kind and time, so one that arrives twice (QoS 1
after a reconnect, or through two bridges) is kept once. Writes are batched; every call
into SQLite runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from gateway import Schema

log = logging.getLogger(__name__)

Document = dict[str, Any]
FLUSH_EVERY = 0.5
PRUNE_EVERY = 3600.0
LIMIT = 500

_TABLES = """
CREATE TABLE IF NOT EXISTS event (
    site TEXT NOT NULL, alarm_id TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL,
    by TEXT, zone TEXT, device TEXT, class TEXT, text TEXT NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (site, alarm_id, kind, at)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_at ON event (at);
"""
_SCHEMA = Schema("console journal", 1, _TABLES)
"""The journal's layout, version 1 (CHANGELOG.md says what each version changed)."""


class Journal:
    """`path` None keeps the journal in memory (it is then lost with the console)."""

    def __init__(self, path: Path | None, *, days: float = 7.0) -> None:
        self.path = path
        self.days = days
        self._waiting: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._db = await asyncio.to_thread(self._open)
        self._task = asyncio.create_task(self._keep())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()
        if self._db is not None:
            self._db.close()

    def _open(self) -> sqlite3.Connection:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            str(self.path or ":memory:"), check_same_thread=False, isolation_level=None
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        _SCHEMA.apply(db, self.path or ":memory:", fresh=not _has_tables(db))
        db.isolation_level = (
            "DEFERRED"  # back to Python's implicit transactions, as the writes expect
        )
        return db

    def add(self, event: Document) -> None:
        """Keep one event (written within half a second)."""
        alarm = event.get("alarm") or {}
        if not isinstance(alarm, dict):
            alarm = {}
        text = " ".join(
            str(value)
            for value in (
                event.get("alarm_id"),
                alarm.get("message"),
                event.get("cause"),
                event.get("by"),
                alarm.get("zone"),
            )
            if value
        )
        self._waiting.append(
            (
                str(event.get("site") or ""),
                str(event.get("alarm_id") or ""),
                str(event.get("kind") or ""),
                int(event["at"]) if isinstance(event.get("at"), int) else time.time_ns(),
                event.get("by"),
                alarm.get("zone"),
                alarm.get("device"),
                alarm.get("class"),
                text.lower(),
                json.dumps(event, ensure_ascii=False, separators=(",", ":")),
            )
        )

    async def flush(self) -> None:
        rows, self._waiting = self._waiting, []
        if rows and self._db is not None:
            try:
                await asyncio.to_thread(self._write, rows)
            except BaseException:
                self._waiting[:0] = rows  # kept for the next try
                raise

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        with self._lock, self._connection() as db:
            db.executemany("INSERT OR IGNORE INTO event VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the journal is not open")
        return self._db

    async def history(self, site: str, alarm_id: str) -> list[Document]:
        """Every event of one alarm the journal holds, oldest first."""
        await self.flush()
        return await asyncio.to_thread(
            self._query,
            "SELECT document FROM event WHERE site = ? AND alarm_id = ? ORDER BY at LIMIT ?",
            (site, alarm_id, LIMIT),
        )

    async def search(
        self,
        *,
        text: str = "",
        zones: Sequence[str] = (),
        since: int | None = None,
        until: int | None = None,
        site: str | None = None,
        limit: int = 200,
    ) -> list[Document]:
        """The newest events first: matching `text` (in the alarm id, message, cause, who,
        zone id) or in one of `zones` (the zones whose names match it), within the times."""
        await self.flush()
        where: list[str] = ["1=1"]
        values: list[str | int] = []
        if text:
            words = ["text LIKE ? ESCAPE '\\'"]
            values.append(f"%{_escape(text.lower())}%")
            if zones:
                words.append(f"zone IN ({','.join('?' * len(zones))})")
                values.extend(zones)
            where.append(f"({' OR '.join(words)})")
        for clause, value in (("at >= ?", since), ("at <= ?", until), ("site = ?", site)):
            if value is not None:
                where.append(clause)
                values.append(value)
        values.append(max(1, min(limit, LIMIT)))
        query = f"SELECT document FROM event WHERE {' AND '.join(where)} ORDER BY at DESC LIMIT ?"
        return await asyncio.to_thread(self._query, query, tuple(values))

    def _query(self, query: str, values: tuple[Any, ...]) -> list[Document]:
        with self._lock:
            rows = self._connection().execute(query, values).fetchall()
        return [json.loads(row[0]) for row in rows]

    async def prune(self) -> int:
        horizon = time.time_ns() - int(self.days * 86400e9)
        return await asyncio.to_thread(self._prune, horizon)

    def _prune(self, horizon: int) -> int:
        with self._lock, self._connection() as db:
            return db.execute("DELETE FROM event WHERE at < ?", (horizon,)).rowcount

    async def _keep(self) -> None:
        last_prune = 0.0
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                await self.flush()
                if time.monotonic() - last_prune > PRUNE_EVERY:
                    last_prune = time.monotonic()
                    await self.prune()
            except sqlite3.Error as error:
                log.warning("journal %s: %s; events are kept in memory meanwhile", self.path, error)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_tables(db: sqlite3.Connection) -> bool:
    return bool(db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
