"""A gateway's outbox file read from outside: how many lines it accepted, how many a sink sent.

Line ids count up from 1, so the highest id is the lines accepted since the file was made,
also after a sink has sent them and they were deleted: the newest batch's ``last_id`` (or,
with every batch delivered, the highest sink position), and in the row-per-line layout of
schema versions 0 and 1 (which `bench.disk_writes` measures as "before") SQLite's
``sqlite_sequence``. ``sink_position`` holds, per sink, the last id the database
acknowledged. The file is opened read-only while the gateway writes it (WAL mode: readers
never block the writer) and is never created here.
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
            accepted = _scalar(db, _ACCEPTED if _batched(db) else _ACCEPTED_ROWS)
            delivered = _scalar(db, "SELECT min(last_id) FROM sink_position")
    except sqlite3.OperationalError:  # being created, or its schema not yet there
        return None
    return OutboxProgress(accepted or 0, delivered)


_ACCEPTED = (
    "SELECT max(coalesce((SELECT max(last_id) FROM outbox_batch), 0),"
    " coalesce((SELECT max(last_id) FROM sink_position), 0))"
)
_ACCEPTED_ROWS = "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"


def _batched(db: sqlite3.Connection) -> bool:
    return (
        db.execute("SELECT 1 FROM sqlite_master WHERE name = 'outbox_batch'").fetchone() is not None
    )


def _scalar(db: sqlite3.Connection, query: str) -> int | None:
    row = db.execute(query).fetchone()
    return None if row is None or row[0] is None else int(row[0])
