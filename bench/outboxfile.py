"""A gateway's outbox file read from outside: how many lines it accepted, how many a sink sent.

The outbox's ids come from ``AUTOINCREMENT``, so SQLite's ``sqlite_sequence`` holds the highest
id ever handed out: the lines accepted since the file was made, also after a sink has sent
them and they were deleted. ``sink_position`` holds, per sink, the last id the database
acknowledged. The file is opened read-only while the gateway writes it (WAL mode: readers never
block the writer) and is never created here.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OutboxProgress:
    """Lines accepted into the outbox, and lines delivered by its slowest sink (None: no sink)."""

    accepted: int
    delivered: int | None


def progress(path: Path) -> OutboxProgress | None:
    """What the outbox at `path` has accepted and delivered; None before it exists."""
    if not path.exists():
        return None
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        ) as db:
            accepted = _scalar(db, "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
            delivered = _scalar(db, "SELECT min(last_id) FROM sink_position")
    except sqlite3.OperationalError:  # being created, or its schema not yet there
        return None
    return OutboxProgress(accepted or 0, delivered)


def _scalar(db: sqlite3.Connection, query: str) -> int | None:
    row = db.execute(query).fetchone()
    return None if row is None or row[0] is None else int(row[0])
