"""One SQLite file owned by one worker thread: the shape of the outbox, the alarm store and the
rejected payload store, and what happens when the file itself goes wrong.

The event loop never waits on the disk: every call runs on a dedicated thread that owns the
connection, one at a time, in the order the calls were made. The file runs in WAL mode with
``synchronous=NORMAL``: a commit survives a crash or kill of the process; after a power loss
the file is never corrupt, but commits since the last checkpoint may be rolled back.

An SD card in a plant room is not a safe place, and a damaged file must never stop fire
detection. So a store heals itself:

- **Damaged** (SQLite says "file is not a database" or "database disk image is malformed",
  on opening or on any call, or the periodic `check` finds the file's header is not SQLite's):
  the file (and its WAL) is moved aside beside it as ``<name>.corrupt-<UTC time>``, for
  inspection, and a fresh file takes its place; the call that met the damage runs again on
  the fresh file. The newest `KEEP_DAMAGED` copies are kept, so a failing card does not fill
  itself with them.
- **Deleted or replaced while open** (`check`, every few seconds: the path no longer names the
  inode the connection has open): the store opens what is at the path now, a fresh file if
  nothing is.

Each is logged once at ERROR and kept in `replacements`; the gateway raises a trouble alarm
from it (gateway/health/troubles.py). Writes that fail for want of space or for an I/O error
are not damage: the file stays, and the caller retries (`is_full` tells the two apart).

Every file is created readable by its owner only (0600), and so are the ``-wal`` and ``-shm``
files SQLite creates beside it (it gives them the database file's permissions); a store made
by an older version with wider permissions is narrowed on opening.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from core import FiregwError

T = TypeVar("T")

log = logging.getLogger(__name__)

FILE_MODE = 0o600
"""Stores hold alarm histories and readings of a hospital: for the gateway's user only."""

KEEP_DAMAGED = 3
"""Damaged copies kept beside each store, newest first; older ones are deleted."""

HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

_SIDE_FILES = ("-wal", "-shm")
_DAMAGE_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
_FULL_CODE = 13  # SQLITE_FULL

STORAGE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, OSError)
"""What a write to a store may fail with when the disk does: full, I/O error, read-only."""


Step = Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class Schema:
    """A store's tables at its current `version`, and the steps that bring an older file there.

    The version is kept in the file itself (SQLite's `user_version` in its header), so a
    gateway that opens a file written by an older one upgrades it at start, once, in one
    transaction: `steps[n]` takes a file from version n - 1 to n, and may count on the layout
    of version n - 1 (a step to version 1 starts from a file made before versions were kept,
    version 0, whatever its age, and must look before it changes). Then `tables` (CREATE ...
    IF NOT EXISTS) adds what is missing. A fresh file gets `tables` and the version at once.

    A file of a newer version (an older firegw put back after an upgrade) is used as it is,
    with one ERROR line: the steps only ever add, so an older gateway can read what it knows.
    `docs/upgrading.md` says how to go back.
    """

    what: str
    version: int
    tables: str
    steps: Mapping[int, Step] = field(default_factory=dict)
    page_size: int | None = None
    """The page size of a new file (SQLite's default, 4096, if None); a file keeps the one it
    was made with."""

    def apply(self, db: sqlite3.Connection, path: Path | str, *, fresh: bool) -> None:
        """Bring the file open as `db` (autocommit mode) to this version; `fresh`: it has no
        tables yet."""
        found = int(db.execute("PRAGMA user_version").fetchone()[0])
        if found > self.version:
            log.error(
                "%s %s was written by a newer firegw (schema version %d; this one knows %d): "
                "using it as it is (docs/upgrading.md says how to go back)",
                self.what,
                path,
                found,
                self.version,
            )
            db.executescript(self.tables)  # what this version needs and a newer one moved away
            return
        if found < self.version and not fresh:
            with transaction(db):
                for version in range(found + 1, self.version + 1):
                    if version in self.steps:
                        self.steps[version](db)
                db.execute(f"PRAGMA user_version = {self.version:d}")
            log.info(
                "%s %s: schema upgraded from version %d to %d", self.what, path, found, self.version
            )
        db.executescript(self.tables)
        if fresh:
            db.execute(f"PRAGMA user_version = {self.version:d}")


def schema_version(path: Path | str) -> int:
    """The schema version of the SQLite file at `path` (0 for a file made before versions)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


class StoreClosedError(FiregwError):
    """A store (outbox, alarm store, rejected payloads) was used while it was not open."""


def is_damage(error: BaseException) -> bool:
    """Whether SQLite says the file itself is damaged (not a database, or malformed)."""
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.DatabaseError)
        and code is not None
        and code & 0xFF in (_DAMAGE_CODES)
    )


def is_full(error: BaseException) -> bool:
    """Whether a write failed because the disk is full (SQLITE_FULL or ENOSPC)."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF == _FULL_CODE
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True, slots=True)
class Replacement:
    """One time a store's file was found damaged or gone and a fresh one took its place.

    `kept_as` is where the damaged file was moved (None when there was nothing left to keep);
    `lost` says what went with it, in words ("812 lines waiting for delivery").
    """

    at: int
    """Wall-clock time, ns."""
    reason: str
    kept_as: Path | None
    lost: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "reason": self.reason,
            "kept_as": str(self.kept_as) if self.kept_as else None,
            "lost": self.lost,
        }


class SqliteFile:
    """Base of an async store kept in one SQLite file; subclasses say what `_open` does.

    `what` names the store in errors ("outbox", "alarm store"); `closed_error` is raised by a
    call made while the store is not open. `_open` must be safe to run again on a fresh file:
    that is how a replaced file gets its schema and the subclass its in-memory state.

    Attributes:
        replacements: every replacement of the file this run, oldest first.
        generation: how many times the file was replaced or reopened this run; a caller that
            holds row ids from before a replacement compares it (`OutboxReader`).
        fresh: whether the file had no tables when it was last opened (new, empty, or a
            replacement).
    """

    what = "database"
    closed_error: type[StoreClosedError] = StoreClosedError

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.replacements: list[Replacement] = []
        self.generation = 0
        self.fresh = False
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None
        self._opening: Callable[[], Any] | None = None
        self._reopening = False
        self._identity: tuple[int, int] | None = None

    async def _start(self, opening: Callable[[], T]) -> T | None:
        """Start the worker thread and run `opening` on it (it calls `_connect`).

        A file that cannot be opened for want of space or for an I/O error does not stop the
        gateway: that is logged, None is returned, and every later call that needs the file
        tries to open it again (and raises what the disk says until it can).
        """
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=self.what.replace(" ", "-")
        )
        self._opening = opening
        try:
            return await self._call(opening)
        except STORAGE_ERRORS as error:
            log.error(
                "%s %s cannot be opened (%s); going on without it, and trying again at every use",
                self.what,
                self.path,
                error,
            )
            return None

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

    async def check(self) -> Replacement | None:
        """Is the file at the path still the one open, and still an SQLite file?

        Deleted: a fresh file takes its place. Replaced by another file: that one is opened.
        A header that is not SQLite's: the file is damaged, moved aside and replaced. Returns
        the replacement, if there was one. Cheap (a `stat` and 16 bytes): run it every few
        seconds. Raises what the disk raises when a fresh file cannot be made.
        """
        return await self._call(self._check_file)

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        """Run `function` on the worker thread that owns the connection."""
        if self._executor is None:
            raise self.closed_error(f"{self.what} {self.path} is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._guarded, function, args)

    # Everything below runs on the worker thread.

    def _guarded(self, function: Callable[..., T], args: tuple[object, ...]) -> T:
        """Run `function`; if it meets a damaged file, replace the file and run it again."""
        try:
            return function(*args)
        except sqlite3.DatabaseError as error:
            if not is_damage(error):
                raise
            opened = self._replace(f"damaged ({error})")
            if function is self._opening:
                return opened  # type: ignore[no-any-return]
            return function(*args)

    def _connect(self, schema: Schema) -> sqlite3.Connection:
        """Open (creating folders and tables as needed, upgrading an older file's tables) in
        WAL mode with synchronous=NORMAL.

        A new file is created 0600 before SQLite opens it, so that its -wal and -shm files
        get the same; an existing one is narrowed to 0600. Sets `fresh`.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _create_private(self.path)
        new = self.path.stat().st_size == 0
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            if new and schema.page_size is not None:
                db.execute(f"PRAGMA page_size = {schema.page_size:d}")  # before anything is written
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
            self.fresh = tables.fetchone()[0] == 0
            schema.apply(db, self.path, fresh=self.fresh)
        except BaseException:
            db.close()
            raise
        self._db = db
        self._identity = _identity(self.path)
        return db

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):  # a damaged file may refuse its checkpoint
                db.close()

    def _connection(self) -> sqlite3.Connection:
        """The open connection; if opening failed before (a full disk), it is tried again."""
        if self._db is None and self._opening is not None and not self._reopening:
            self._reopening = True
            try:
                self._opening()
            finally:
                self._reopening = False
        if self._db is None:
            raise self.closed_error(f"{self.what} {self.path} is not open")
        return self._db

    def _check_file(self) -> Replacement | None:
        if self._db is None:  # never opened (a full disk): try again, nothing to compare
            self._connection()
            return None
        try:
            identity = _identity(self.path)
        except FileNotFoundError:
            self._replace("deleted while the gateway ran")
            return self.replacements[-1]
        if identity != self._identity:
            log.error(
                "%s %s was replaced by another file while the gateway ran: opening that one",
                self.what,
                self.path,
            )
            self._close()
            self.generation += 1
            assert self._opening is not None
            self._opening()
            return None
        fd = _descriptor_of(self.path)
        if fd is None:
            return None  # no /proc to find SQLite's own descriptor: the header is not read
        header = os.pread(fd, len(HEADER), 0)
        if header != HEADER:
            reason = (
                f"damaged (its header is {header!r})" if header else "emptied while the gateway ran"
            )
            self._replace(reason)
            return self.replacements[-1]
        return None

    def _replace(self, reason: str) -> Any:
        """Close, move the damaged file aside (or drop what is left of a deleted one), open a
        fresh one; log it once and record it. Returns what `_open` returned."""
        lost = self._lost()
        self._close()
        kept_as = self._move_aside()
        self.generation += 1
        replacement = Replacement(time.time_ns(), reason, kept_as, lost)
        self.replacements.append(replacement)
        log.error(
            "%s %s: %s; %sa fresh file takes its place%s",
            self.what,
            self.path,
            reason,
            f"kept as {kept_as}; " if kept_as else "",
            f" ({lost} are lost with it)" if lost else "",
        )
        assert self._opening is not None
        return self._opening()

    def _lost(self) -> str:
        """What a replacement loses, in words, for the log; subclasses say (outbox lines)."""
        return ""

    def _move_aside(self) -> Path | None:
        """Rename the file and its WAL to ``<name>.corrupt-<UTC time>``; keep the newest few."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        number = 1
        while target.exists():
            number += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{number}")
        if not self.path.exists():
            self._drop_side_files()
            return None
        os.replace(self.path, target)
        wal = Path(f"{self.path}-wal")
        if wal.exists():
            os.replace(wal, Path(f"{target}-wal"))  # opened together with the copy, it reads
        self._drop_side_files()
        self._prune_damaged()
        return target

    def _drop_side_files(self) -> None:
        """-wal and -shm files left without their database: SQLite must not apply them to the
        fresh file that takes its name."""
        for suffix in _SIDE_FILES:
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").unlink()

    def _prune_damaged(self) -> None:
        copies = sorted(
            (
                copy
                for copy in self.path.parent.glob(f"{self.path.name}.corrupt-*")
                if not copy.name.endswith(_SIDE_FILES)
            ),
            key=lambda copy: copy.stat().st_mtime_ns,
            reverse=True,
        )
        for old in copies[KEEP_DAMAGED:]:
            for suffix in ("", "-wal"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{old}{suffix}").unlink()
            log.warning("%s: deleted the old damaged copy %s", self.what, old)


def _create_private(path: Path) -> None:
    """Create `path` 0600 if it does not exist; narrow it and its -wal/-shm to 0600 if they do."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        return
    for file in (path, *(Path(f"{path}{suffix}") for suffix in _SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            if os.stat(file).st_mode & 0o777 != FILE_MODE:
                os.chmod(file, FILE_MODE)


def _descriptor_of(path: Path) -> int | None:
    """The descriptor SQLite holds open on `path` in this process, from /proc/self/fd.

    The header is read through it (`os.pread`, which moves nothing), never through a file
    opened for the purpose: closing any descriptor of a file drops every POSIX lock the
    process holds on it, SQLite's included, and another process could then delete the live
    WAL (sqlite.org, "How To Corrupt An SQLite Database File", 2.2).
    """
    target = os.path.realpath(path)
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    for name in names:
        try:
            link = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if link == target:
            return int(name)
    return None


def _identity(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN ... COMMIT around a block, ROLLBACK if the block raises.

    SQLite rolls a transaction back by itself after some errors (a full disk); a ROLLBACK
    then would fail and hide the error that matters, so it is only sent when one is open.
    """
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
