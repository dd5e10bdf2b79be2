"""The durable outbox: readings wait on disk here until a sink has delivered them.

A line is *accepted* once `Outbox.append` returns: it is committed to SQLite and survives a
crash or a kill of the gateway. Sinks `peek` the oldest lines, and delete them with
`remove_through` only after the server acknowledged them, so a line leaves the outbox either
delivered or set aside in the `dead_letter` table with the reason, never silently.

`OutboxWriter` sits in front of the outbox and turns a stream of single lines into a few
large transactions, which is what makes tens of thousands of readings a second affordable.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

__all__ = ["Outbox", "OutboxClosedError", "OutboxWriter"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL,
    line TEXT NOT NULL,
    reason TEXT NOT NULL,
    set_aside_at_ns INTEGER NOT NULL
);
"""


class OutboxClosedError(RuntimeError):
    """The outbox or its writer was used after it was closed."""


class Outbox:
    """A first-in, first-out store of line-protocol lines in one SQLite file.

    Durability: the database runs in WAL mode with ``synchronous=NORMAL``. A committed
    `append` survives a crash or kill of the gateway process at any moment. After a power
    loss or kernel crash the database is never corrupt, but the transactions committed since
    the last WAL checkpoint (at most a few seconds of readings) may be rolled back; that is
    the price of not waiting for an fsync on every batch of an SD card. Lines that were
    delivered may be delivered again after such a rollback, which InfluxDB absorbs because a
    point with the same series and timestamp overwrites itself.

    All SQLite work runs on one dedicated worker thread that owns the connection, so the event
    loop never waits on the disk and calls are executed one at a time, in the order they were
    made. Ids only grow (``AUTOINCREMENT``), so an id is never reused after its row is gone.

    Use as ``async with Outbox(path) as outbox:``; entering creates the parent directories and
    the schema, leaving closes the connection after every call already made has finished.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None
        self._backlog = 0

    async def __aenter__(self) -> Self:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        await self._call(self._open)
        logger.info("outbox %s opened with %d lines waiting", self.path, self._backlog)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection once every call already made has finished."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.get_running_loop().run_in_executor(executor, self._close)
        executor.shutdown(wait=False)

    async def append(self, lines: Sequence[str]) -> None:
        """Store `lines` in one transaction; they are accepted once this returns."""
        if lines:
            await self._call(self._append, lines)

    async def peek(self, limit: int) -> list[tuple[int, str]]:
        """Return up to `limit` of the oldest waiting lines as (id, line), oldest first."""
        return await self._call(self._peek, limit)

    async def remove_through(self, last_id: int) -> int:
        """Delete every waiting line with an id up to and including `last_id`; return how many.

        Call this only for lines the server has acknowledged.
        """
        return await self._call(self._remove_through, last_id)

    async def set_aside(self, rows: Sequence[tuple[int, str]], reason: str) -> None:
        """Move `rows` (as returned by `peek`) to the dead-letter table with `reason`.

        For lines a server rejected as malformed: retrying them forever would block every
        line behind them, and dropping them would lose data without a trace.
        """
        if rows:
            await self._call(self._set_aside, rows, reason)

    async def backlog(self) -> int:
        """How many lines are waiting for delivery."""
        return await self._call(lambda: self._backlog)

    async def dead_letters(self) -> int:
        """How many lines have been set aside as undeliverable."""
        return await self._call(self._count_dead_letters)

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        """Run `function` on the worker thread that owns the connection."""
        if self._executor is None:
            raise OutboxClosedError(f"outbox {self.path} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # Everything below runs on the worker thread.

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        self._backlog = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        self._db = db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxClosedError(f"outbox {self.path} is not open")
        return self._db

    def _append(self, lines: Sequence[str]) -> None:
        db = self._connection()
        with _transaction(db):
            db.executemany("INSERT INTO outbox (line) VALUES (?)", ((line,) for line in lines))
        self._backlog += len(lines)

    def _peek(self, limit: int) -> list[tuple[int, str]]:
        query = "SELECT id, line FROM outbox ORDER BY id LIMIT ?"
        return self._connection().execute(query, (limit,)).fetchall()

    def _remove_through(self, last_id: int) -> int:
        db = self._connection()
        with _transaction(db):
            removed = db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,)).rowcount
        self._backlog -= removed
        return removed

    def _set_aside(self, rows: Sequence[tuple[int, str]], reason: str) -> None:
        db = self._connection()
        now = time.time_ns()
        with _transaction(db):
            db.executemany(
                "INSERT INTO dead_letter (outbox_id, line, reason, set_aside_at_ns)"
                " VALUES (?, ?, ?, ?)",
                ((row_id, line, reason, now) for row_id, line in rows),
            )
            removed = db.executemany(
                "DELETE FROM outbox WHERE id = ?", ((row_id,) for row_id, _ in rows)
            ).rowcount
        self._backlog -= removed

    def _count_dead_letters(self) -> int:
        return int(self._connection().execute("SELECT count(*) FROM dead_letter").fetchone()[0])


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN ... COMMIT around a block, ROLLBACK if the block raises."""
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class OutboxWriter:
    """Batches single lines into few, large `Outbox.append` transactions.

    Producers `put` lines into a bounded queue (about 50,000 lines, so a stalled disk slows
    the producers down instead of eating the memory); `run` takes whatever is waiting, up to
    `max_batch` lines, waits at most `max_delay` seconds for more, and commits the batch.

    Guarantees: `flush` returns once every line put before the call is committed. When the
    task running `run` is cancelled, it first commits the batch in hand and everything still
    queued, then re-raises, so nothing accepted into the queue is lost on a clean shutdown.
    `close` refuses further lines and commits the rest, whether or not `run` is running.

    Args:
        outbox: the open outbox to append to.
        max_batch: most lines per transaction.
        max_delay: how long, in seconds, a batch may wait for more lines.
        maxsize: capacity of the queue in lines.
        on_commit: called after each committed batch, for example a sink's ``wake``.
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        max_batch: int = 5000,
        max_delay: float = 0.05,
        maxsize: int = 50_000,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._on_commit = on_commit
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self._batch: list[str] = []
        self._commit_lock = asyncio.Lock()
        self._committed = asyncio.Condition()
        self._accepted = 0
        self._running = False
        self._closed = False
        self.written = 0
        """Lines committed to the outbox by this writer."""

    @property
    def pending(self) -> int:
        """Lines accepted but not yet committed."""
        return self._accepted - self.written

    def put_nowait(self, line: str) -> None:
        """Accept `line` without waiting.

        Raises:
            asyncio.QueueFull: the queue is full; the disk is not keeping up.
            OutboxClosedError: the writer was closed.
        """
        self._check_open()
        self._queue.put_nowait(line)
        self._accepted += 1

    async def put(self, line: str) -> None:
        """Accept `line`, waiting while the queue is full."""
        self._check_open()
        await self._queue.put(line)
        self._accepted += 1

    async def run(self) -> None:
        """Commit batches until cancelled; on cancellation commit everything queued first."""
        self._running = True
        try:
            while True:
                await self._fill_batch()
                await self._commit_batch()
        except asyncio.CancelledError:
            await self._commit_rest()
            raise
        finally:
            self._running = False

    async def flush(self) -> None:
        """Return once every line accepted before this call is committed."""
        target = self._accepted
        if not self._running:
            await self._commit_rest()
        async with self._committed:
            await self._committed.wait_for(lambda: self.written >= target)

    async def close(self) -> None:
        """Refuse further lines and commit everything accepted so far."""
        self._closed = True
        await self.flush()

    def _check_open(self) -> None:
        if self._closed:
            raise OutboxClosedError(f"writer for outbox {self._outbox.path} is closed")

    async def _fill_batch(self) -> None:
        """Take lines into the batch: at least one, then more until full or `max_delay` passes."""
        if not self._batch:
            self._batch.append(await self._queue.get())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_delay
        while self._take_waiting() and loop.time() < deadline:
            try:
                async with asyncio.timeout_at(deadline):
                    self._batch.append(await self._queue.get())
            except TimeoutError:
                return

    def _take_waiting(self) -> bool:
        """Move queued lines into the batch without waiting; True while the batch has room."""
        while len(self._batch) < self._max_batch and not self._queue.empty():
            self._batch.append(self._queue.get_nowait())
        return len(self._batch) < self._max_batch

    async def _commit_batch(self) -> None:
        """Append the batch, shielded: a cancellation must not abandon a half-made commit."""
        await asyncio.shield(self._append_batch())

    async def _append_batch(self) -> None:
        """Commit the oldest uncommitted lines; the lock keeps commits one at a time, in order."""
        async with self._commit_lock:
            batch, self._batch = self._batch, []
            if not batch:
                return
            try:
                await self._outbox.append(batch)
            except BaseException:
                self._batch = batch + self._batch  # still the oldest: retried first
                raise
            self.written += len(batch)
        async with self._committed:
            self._committed.notify_all()
        if self._on_commit is not None:
            self._on_commit()

    async def _commit_rest(self) -> None:
        """Commit the batch in hand and everything queued, in order."""
        while self._batch or not self._queue.empty():
            self._take_waiting()
            await self._append_batch()
