"""Rejected MQTT payloads, kept for inspection: a bounded dead-letter store on disk.

When a camera's firmware sends something the gateway cannot use (not JSON, too large, NaN, a
field of the wrong type or missing), the driver counts it and logs the reason once a minute;
this store keeps the payload itself, so an installer can see what the device actually sends
(`firegw rejected CONFIG`). It is diagnostics, not history: it keeps the newest
`keep_per_device` entries of each device (default 100) and `keep_total` in all (default 5,000),
and of each payload its first `max_payload_bytes` (default 4,096): at most about 20 MB.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from core import RateLimit
from drivers.mqtt import RejectedPayload
from gateway.sqlitefile import Schema, SqliteFile, StoreClosedError, transaction

__all__ = ["RejectedEntry", "RejectedPayloads", "RejectedPayloadsClosedError", "read_rejected"]

log = logging.getLogger(__name__)

_TABLES = """
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at INTEGER NOT NULL,
    device TEXT NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rejected_by_device ON rejected (device, seq);
"""
_SCHEMA = Schema("rejected payload store", 1, _TABLES)
"""The layout of the rejected payloads' file, version 1 (see CHANGELOG.md)."""
_COLUMNS = "seq, received_at, device, topic, reason, payload, size"
_Row = tuple[int, str, str, str, bytes, int]
"""An entry to write: received_at, device, topic, reason, first bytes of payload, size."""
_FAILURE_LOG_EVERY = 60.0


@dataclass(frozen=True)
class RejectedEntry:
    """One kept payload: `payload` is its first bytes, `size` its length as received."""

    seq: int
    received_at: int
    device: str
    topic: str
    reason: str
    payload: bytes
    size: int

    @property
    def truncated(self) -> bool:
        return self.size > len(self.payload)


class RejectedPayloadsClosedError(StoreClosedError):
    """The rejected payload store was used while it was not open."""


class RejectedPayloads(SqliteFile):
    """The dead-letter store: `add` from the MQTT message loop, written in batches off it.

    `add` never blocks and never raises: it queues the entry (at most `max_waiting`; beyond
    that the oldest waiting entries are dropped and counted in `dropped`) and a task writes
    what is waiting on the store's worker thread. Use as ``async with RejectedPayloads(path)``;
    on the way out the waiting entries are written.
    """

    what = "rejected payload store"
    closed_error = RejectedPayloadsClosedError

    def __init__(
        self,
        path: Path | str,
        *,
        keep_per_device: int = 100,
        keep_total: int = 5000,
        max_payload_bytes: int = 4096,
        max_waiting: int = 1000,
    ) -> None:
        for name, value in (
            ("keep_per_device", keep_per_device),
            ("keep_total", keep_total),
            ("max_payload_bytes", max_payload_bytes),
        ):
            if value < 1:
                raise ValueError(
                    f"rejected payload store: {name} must be at least 1, got {value!r}"
                )
        super().__init__(path)
        self.keep_per_device, self.keep_total = keep_per_device, keep_total
        self.max_payload_bytes = max_payload_bytes
        self.dropped = 0
        self.written = 0
        self._waiting: deque[_Row] = deque(maxlen=max_waiting)
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._failure_log = RateLimit(_FAILURE_LOG_EVERY)

    def add(self, rejection: RejectedPayload) -> None:
        """Queue a rejected payload for the store (its first `max_payload_bytes` only)."""
        if len(self._waiting) == self._waiting.maxlen:
            self.dropped += 1
        r = rejection
        self._waiting.append(
            (
                r.received_at,
                r.device,
                r.topic,
                r.reason,
                r.payload[: self.max_payload_bytes],
                len(r.payload),
            )
        )
        self._wake.set()

    async def __aenter__(self) -> Self:
        await self._start(self._open)
        self._writer = asyncio.create_task(self._write_forever(), name=f"{self.what} writer")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            await self._write_waiting()
        await self.close()

    async def entries(self, device: str | None = None, limit: int = 20) -> list[RejectedEntry]:
        """The newest kept entries, newest first; of one device when `device` is given."""
        return await self._call(lambda: _select(self._connection(), device, limit))

    async def flush(self) -> None:
        """Write what is waiting now (the writer task does this by itself)."""
        await self._write_waiting()

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._write_waiting()

    async def _write_waiting(self) -> None:
        """Write the waiting entries; a disk error costs them, logged once a minute."""
        batch = list(self._waiting)
        self._waiting.clear()
        if not batch:
            return
        try:
            await self._call(self._insert, batch)
        except (sqlite3.Error, OSError) as error:
            self.dropped += len(batch)
            self._log_failure(error)
        else:
            self.written += len(batch)

    def _log_failure(self, error: Exception) -> None:
        if self._failure_log.due("write"):
            log.warning(
                "%s %s: cannot keep rejected payloads: %s (%d dropped so far)",
                self.what,
                self.path,
                error,
                self.dropped,
            )

    # Everything below runs on the worker thread.

    def _open(self) -> None:
        self._connect(_SCHEMA)

    def _insert(self, batch: Sequence[_Row]) -> None:
        """Add a batch, then delete what is beyond the bounds, oldest first."""
        db = self._connection()
        with transaction(db):
            db.executemany(
                "INSERT INTO rejected (received_at, device, topic, reason, payload, size) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                batch,
            )
            for device in {row[1] for row in batch}:
                db.execute(
                    "DELETE FROM rejected WHERE device = ?1 AND seq <= (SELECT seq FROM "
                    "rejected WHERE device = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                    (device, self.keep_per_device),
                )
            db.execute(
                "DELETE FROM rejected WHERE seq <= (SELECT seq FROM rejected "
                "ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (self.keep_total,),
            )


def read_rejected(path: Path, device: str | None = None, limit: int = 20) -> list[RejectedEntry]:
    """The newest kept entries of the store at `path`, read-only (the gateway may be running).

    Raises:
        FileNotFoundError: no store at `path` (nothing was ever rejected there).
        sqlite3.Error: the file cannot be read.
    """
    if not path.exists():
        raise FileNotFoundError(path)
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return _select(db, device, limit)
    finally:
        db.close()


def _select(db: sqlite3.Connection, device: str | None, limit: int) -> list[RejectedEntry]:
    where, args = ("WHERE device = ?", (device,)) if device is not None else ("", ())
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM rejected {where} ORDER BY seq DESC LIMIT ?", (*args, limit)
    ).fetchall()
    return [RejectedEntry(*row) for row in rows]
