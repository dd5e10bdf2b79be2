"""One SQLite file owned by one worker thread: the shape of the outbox and the alarm store.

The event loop never waits on the disk: every call runs on a dedicated thread that owns the
connection, one at a time, in the order the calls were made. The file runs in WAL mode with
``synchronous=NORMAL``: a commit survives a crash or kill of the process; after a power loss
the file is never corrupt, but commits since the last checkpoint may be rolled back.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from core import FiregwError

T = TypeVar("T")


class StoreClosedError(FiregwError):
    """A store (outbox, alarm store, rejected payloads) was used while it was not open."""


class SqliteFile:
    """Base of an async store kept in one SQLite file; subclasses say what `_open` does.

    `what` names the store in errors ("outbox", "alarm store"); `closed_error` is raised by a
    call made while the store is not open.
    """

    what = "database"
    closed_error: type[StoreClosedError] = StoreClosedError

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None

    async def _start(self, opening: Callable[[], T]) -> T:
        """Start the worker thread and run `opening` on it (it calls `_connect`)."""
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=self.what.replace(" ", "-")
        )
        return await self._call(opening)

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

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        """Run `function` on the worker thread that owns the connection."""
        if self._executor is None:
            raise self.closed_error(f"{self.what} {self.path} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # Everything below runs on the worker thread.

    def _connect(self, schema: str) -> sqlite3.Connection:
        """Open (creating folders and tables as needed) in WAL mode with synchronous=NORMAL."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
        self._db = db
        return db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise self.closed_error(f"{self.what} {self.path} is not open")
        return self._db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN ... COMMIT around a block, ROLLBACK if the block raises."""
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
