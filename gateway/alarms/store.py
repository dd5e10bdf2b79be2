"""The alarm store: every alarm that is not gone, and the history of every event, on disk.

After ISA-18.2: a restart neither loses an unacknowledged alarm nor raises an acknowledged
one again. The service records each batch of events here before it publishes them, and after
a restart hands `load()` to `RuleEngine.restore`.

A disk that fails must neither stop the alarms nor lose a person's acknowledgement: what
cannot be written waits here in memory and is written, in order, as soon as the disk takes
it again. A damaged or deleted file is replaced by a fresh one (gateway/sqlitefile.py); a
fresh file does not know the alarms of before, so it says so (`needs_broker_alarms`) until
they are back in it: the engine's own while the gateway runs, or the broker's retained
alarm states after a start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from core import FULL_JITTER, Backoff, ConnectionHealth, supervise
from gateway.alarms.audit import AuditEntry
from gateway.alarms.payloads import is_gone
from gateway.sqlitefile import (
    STORAGE_ERRORS,
    Replacement,
    Schema,
    SqliteFile,
    StoreClosedError,
    is_full,
    transaction,
)
from rules import Alarm, AlarmEvent

__all__ = ["AlarmStore", "AlarmStoreClosedError", "read_commands"]

logger = logging.getLogger(__name__)


_TABLES = """
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
CREATE TABLE IF NOT EXISTS commands (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    by TEXT NOT NULL,
    role TEXT,
    ok INTEGER NOT NULL,
    reason TEXT,
    request_id TEXT
);
CREATE TABLE IF NOT EXISTS store_info (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_SCHEMA = Schema("alarm store", 1, _TABLES)
"""The alarm store's layout, version 1 (CHANGELOG.md says what each version changed)."""
_INCOMPLETE = "needs_broker_alarms"
"""The `store_info` row of a file that does not hold every alarm yet (a fresh one)."""

PRUNE_EVERY = 1000
"""Recorded events between two checks of the history's size."""

MAX_WAITING = 100_000
"""Events kept in memory while the disk fails; beyond, the oldest go (each alarm's newest
state is kept all the same, so the alarms come back right; only history is lost)."""

RETRY_INITIAL = 0.5
RETRY_CAP = 10.0
"""Seconds between attempts to write waiting events, doubling to the cap, with jitter."""


_WRITE_ERRORS: tuple[type[Exception], ...] = (*STORAGE_ERRORS, StoreClosedError)


class AlarmStoreClosedError(StoreClosedError):
    """The alarm store was used while it was not open."""


class AlarmStore(SqliteFile):
    """Current alarms and the event history in one SQLite file (WAL mode).

    Like the outbox, all SQLite work runs on one dedicated worker thread that owns the
    connection, so the event loop never waits on the disk and calls run in the order they
    were made. A `record` that returns True is durable (it survives a kill of the gateway;
    after a power loss the last moments may be rolled back, never corrupted, as for the
    outbox).

    When the disk fails (full, I/O errors), `record` returns False and the events wait in
    memory, in order, with each alarm's newest state; a task writes them, with backoff, as
    soon as the disk takes them again (the next `record` tries too). The failure is logged
    once at ERROR, the recovery once; `full` and `waiting` say where it stands. A shutdown
    with events still waiting logs how many are lost with the run.

    A fresh file (new, emptied, or replaced because it was damaged or deleted) is marked as
    not holding every alarm (`needs_broker_alarms`) until it does: while the gateway runs, the
    engine's current alarms are written into it as soon as it exists (`keep_current` says
    where they come from); after a start, the service takes the alarms back from the broker's
    retained states and hands them to `taken_back`.

    The history is the local record for the alarm screens and the CLI; InfluxDB keeps the
    long-term one. It keeps the newest `keep_events` events (default 100,000, tens of MB) so
    the SD card never fills up; older ones are deleted, oldest first. Every command, accepted
    or refused, is kept beside them (`audit`, `commands`; the newest `keep_events` too), and
    waits in memory like the events while the disk fails.

    Use as ``async with AlarmStore(path) as store:``.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        keep_events: int = 100_000,
        max_waiting: int = MAX_WAITING,
        retry_initial: float = RETRY_INITIAL,
        retry_cap: float = RETRY_CAP,
    ) -> None:
        if keep_events < 1:
            raise ValueError(f"alarm store: keep_events must be at least 1, got {keep_events!r}")
        super().__init__(path)
        self.keep_events = keep_events
        self.max_waiting = max_waiting
        self.needs_broker_alarms = False
        """Whether the file does not hold the alarms of before (it is fresh) and the broker's
        retained alarm states should be taken back into the engine."""
        self.full = False
        """Whether the latest failed write failed because the disk is full."""
        self.events_lost = 0
        """Events that waited too long in memory (beyond `max_waiting`) and were dropped."""
        self.health = ConnectionHealth(
            logger,
            f"alarm store {self.path}",
            retrying=(
                "alarms are published all the same; their events wait in memory and are "
                "written as soon as it works again"
            ),
            level=logging.ERROR,
        )
        self._since_prune = 0
        self._waiting: list[AlarmEvent] = []
        self._audits: list[AuditEntry] = []
        self._newest: dict[str, Alarm] = {}
        self._current: Callable[[], Iterable[Alarm]] | None = None
        self._seeded = 0
        self._engine_complete = False
        self._full_set_due = False
        self._backoff = Backoff(retry_initial, retry_cap, spread=FULL_JITTER)
        self._next_try = 0.0
        self._write_lock = asyncio.Lock()
        self._retrier: asyncio.Task[None] | None = None
        self._started = False
        self._listeners: list[Callable[[], None]] = []

    what = "alarm store"
    closed_error = AlarmStoreClosedError

    async def __aenter__(self) -> Self:
        count = await self._start(self._open)
        self._started = True
        if count is not None:
            logger.info("alarm store %s opened with %d current alarms", self.path, count)
        if self.fresh and not self.replacements:
            logger.info(
                "alarm store %s is new (a first start, or the file was lost or emptied): "
                "the alarms the broker still holds for this site are taken back",
                self.path,
            )
        name = f"{self.what} retries"
        self._retrier = asyncio.create_task(supervise(name, self._retry_forever), name=name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        retrier, self._retrier = self._retrier, None
        if retrier is not None:
            retrier.cancel()
            await asyncio.gather(retrier, return_exceptions=True)
            if self._busy:
                await self.write_waiting()
            if self._waiting:
                logger.error(
                    "alarm store %s: %d events could not be stored before stopping and are "
                    "lost with this run (the retained states on the broker still show them)",
                    self.path,
                    len(self._waiting),
                )
        await self.close()

    @property
    def failing(self) -> bool:
        """Whether the latest attempt to write failed."""
        return self.health.failures > 0

    @property
    def waiting(self) -> int:
        """Events waiting in memory for the disk."""
        return len(self._waiting)

    async def load(self) -> list[Alarm]:
        """Every stored alarm that is not gone, for `RuleEngine.restore` after a restart.

        A record that cannot be read back (written by an incompatible version, say) is logged
        and skipped rather than stopping the gateway from starting.
        """
        return await self._call(self._load)

    def keep_current(self, alarms: Callable[[], Iterable[Alarm]]) -> None:
        """Where the alarms of now come from (the engine's), for a file replaced while the
        gateway runs: they are written into it as soon as it exists."""
        self._current = alarms
        self._seeded = self.generation
        self._engine_complete = not self.needs_broker_alarms

    async def record(self, events: Sequence[AlarmEvent]) -> bool:
        """Append `events` to the history and update each alarm's state, in one transaction.

        Events are applied in order, so the last event of an alarm decides its stored state; an
        alarm that is gone after its event is deleted from the current alarms. Returns whether
        they are on disk; if not, they wait in memory (see the class).
        """
        if not events:
            return not self._waiting
        self._waiting.extend(events)
        for event in events:
            self._newest[event.alarm_id] = event.alarm
        if len(self._waiting) > self.max_waiting:
            self._drop_oldest_waiting()
        if time.monotonic() < self._next_try:
            return False
        return await self.write_waiting()

    async def audit(self, entry: AuditEntry) -> bool:
        """Keep one command's audit entry; returns whether it is on disk (if not, it waits in
        memory with the events and is written with them)."""
        self._audits.append(entry)
        if len(self._audits) > self.max_waiting:
            del self._audits[0]
            self.events_lost += 1
        if time.monotonic() < self._next_try:
            return False
        return await self.write_waiting()

    async def commands(self, limit: int = 100) -> list[AuditEntry]:
        """The newest `limit` audit entries, oldest first."""
        return await self._call(self._commands, limit)

    async def taken_back(self, alarms: Iterable[Alarm], taken: int = 0) -> bool:
        """The alarms the file lacked are back (from the broker): write them; it is complete.

        `alarms` are every alarm the engine has now, `taken` how many came from the broker.
        A file that was empty or missing at start although the broker held alarms of this
        site lost them: that counts as a replacement (the gateway raises a trouble alarm).
        Returns whether they are on disk; if not, they are written with the next events that
        are.
        """
        if taken and not self.replacements:
            lost = f"its alarms ({taken} taken back from the broker's retained states)"
            self.replacements.append(
                Replacement(time.time_ns(), "empty or missing at start", None, lost)
            )
        for alarm in alarms:
            self._newest.setdefault(alarm.id, alarm.snapshot())
        self._engine_complete = self._full_set_due = True
        return await self.write_waiting()

    async def write_waiting(self) -> bool:
        """Write what waits in memory now; True when nothing is left waiting."""
        async with self._write_lock:
            reseed, full_set = self._reseed_due, self._full_set_due
            if not self._busy:
                return True
            events, self._waiting = self._waiting, []
            audits, self._audits = self._audits, []
            newest, self._newest = self._newest, {}
            states = dict(newest)
            if reseed and self._current is not None:  # the engine's are newer, or the same
                states = newest | {alarm.id: alarm.snapshot() for alarm in self._current()}
            generation = self.generation
            complete = (reseed or full_set) and self._engine_complete
            try:
                await self._call(self._record, events, list(states.values()), complete, audits)
            except _WRITE_ERRORS as error:
                self._waiting = events + self._waiting
                self._audits = audits + self._audits
                self._newest = newest | self._newest
                self._failed(error)
                return False
            if reseed:
                self._seeded = generation
            self._full_set_due = self._full_set_due and not full_set
            self._recovered()
            if events:
                for listener in self._listeners:
                    listener()
            return not self._waiting

    def on_written(self, listener: Callable[[], None]) -> None:
        """Call `listener` (which must not block) each time events reach the disk, so that a
        reader of `events_after` (the uplink) takes them at once."""
        self._listeners.append(listener)

    async def events_after(self, seq: int, limit: int = 500) -> list[tuple[int, AlarmEvent]]:
        """The stored events after sequence number `seq`, oldest first, at most `limit`, each
        with its sequence number (a record that cannot be read back is logged and skipped)."""
        return await self._call(self._events_after, seq, limit)

    async def last_seq(self) -> int:
        """The sequence number of the newest stored event (0 when there is none)."""
        return await self._call(self._last_seq)

    async def history(self, alarm_id: str | None = None, limit: int = 100) -> list[AlarmEvent]:
        """The newest `limit` events (of one alarm, or of all), oldest first."""
        return await self._call(self._history, alarm_id, limit)

    @property
    def _busy(self) -> bool:
        """Whether something waits to be written."""
        return bool(self._waiting or self._newest or self._audits or self._reseed_due)

    @property
    def _reseed_due(self) -> bool:
        """A file replaced while the gateway runs gets the engine's alarms."""
        return self._current is not None and self._seeded != self.generation

    def _failed(self, error: Exception) -> None:
        self.full = is_full(error)
        self.health.failed(f"{error} ({len(self._waiting)} events waiting)")
        self._next_try = time.monotonic() + self._backoff.next_delay()

    def _recovered(self) -> None:
        self.full = False
        self._next_try = 0.0
        self._backoff.reset()
        self.health.recovered("storing again, the waiting events are written")

    def _drop_oldest_waiting(self) -> None:
        excess = len(self._waiting) - self.max_waiting
        del self._waiting[:excess]
        if not self.events_lost:
            logger.error(
                "alarm store %s: more than %d events waiting for the disk; dropping the "
                "oldest from the history (every alarm's newest state is kept)",
                self.path,
                self.max_waiting,
            )
        self.events_lost += excess

    async def _retry_forever(self) -> None:
        """Write what waits as soon as a retry is due (and a replaced file's alarms at once)."""
        while True:
            busy = self._busy
            await asyncio.sleep(max(0.05, self._next_try - time.monotonic()) if busy else 1.0)
            if self._busy and time.monotonic() >= self._next_try:
                await self.write_waiting()

    # Everything below runs on the worker thread.

    def _open(self) -> int:
        db = self._connect(_SCHEMA)
        if self.fresh:
            with transaction(db):
                db.execute(
                    "INSERT OR REPLACE INTO store_info (key, value) VALUES (?, '1')",
                    (_INCOMPLETE,),
                )
        query = "SELECT count(*) FROM store_info WHERE key = ?"
        self.needs_broker_alarms = bool(db.execute(query, (_INCOMPLETE,)).fetchone()[0])
        return int(db.execute("SELECT count(*) FROM alarms").fetchone()[0])

    def _lost(self) -> str:
        if self._started:
            return "its event history (the alarms of now are written into the new file)"
        return "its alarms and event history (the broker's retained alarms are taken back)"

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

    def _record(
        self,
        events: Sequence[AlarmEvent],
        states: Sequence[Alarm],
        complete: bool,
        audits: Sequence[AuditEntry] = (),
    ) -> None:
        db = self._connection()
        with transaction(db):
            db.executemany(
                "INSERT INTO commands (at, action, target, by, role, ok, reason, request_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (a.at, a.action, a.target, a.by, a.role, a.ok, a.reason, _text(a.request_id))
                    for a in audits
                ),
            )
            db.executemany(
                "INSERT INTO events (alarm_id, kind, at, by, event) VALUES (?, ?, ?, ?, ?)",
                ((e.alarm_id, str(e.kind), e.at, e.by, json.dumps(e.to_dict())) for e in events),
            )
            for alarm in states:
                self._keep_state(db, alarm)
            if complete and self.needs_broker_alarms:
                db.execute("DELETE FROM store_info WHERE key = ?", (_INCOMPLETE,))
            self._since_prune += len(events) + len(audits)
            if self._since_prune >= min(PRUNE_EVERY, self.keep_events):
                self._prune(db)
        if complete:
            self.needs_broker_alarms = False

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
        """Keep the newest `keep_events` events, and as many audit entries."""
        self._since_prune = 0
        db.execute(
            "DELETE FROM commands WHERE seq <= (SELECT max(seq) FROM commands) - ?",
            (self.keep_events,),
        )
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

    def _events_after(self, seq: int, limit: int) -> list[tuple[int, AlarmEvent]]:
        query = "SELECT seq, event FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
        found = []
        for number, text in self._connection().execute(query, (seq, limit)):
            try:
                found.append((int(number), AlarmEvent.from_dict(json.loads(text))))
            except (ValueError, TypeError) as error:
                logger.error(
                    "alarm store %s: skipping unreadable event %d: %s", self.path, number, error
                )
        return found

    def _last_seq(self) -> int:
        row = self._connection().execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def _commands(self, limit: int) -> list[AuditEntry]:
        return _select_commands(self._connection(), limit)


def read_commands(path: Path, limit: int = 20) -> list[AuditEntry]:
    """The newest `limit` audit entries of the alarm store at `path`, oldest first, read-only
    (the gateway may be running).

    Raises:
        FileNotFoundError: no alarm store at `path`.
        sqlite3.Error: the file cannot be read (or is not an alarm store).
    """
    if not path.exists():
        raise FileNotFoundError(path)
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return _select_commands(db, limit)
    finally:
        db.close()


def _select_commands(db: sqlite3.Connection, limit: int) -> list[AuditEntry]:
    query = (
        "SELECT at, action, target, by, role, ok, reason, request_id FROM commands "
        "ORDER BY seq DESC LIMIT ?"
    )
    rows = db.execute(query, (limit,)).fetchall()
    return [
        AuditEntry(at, action, target, by, role, bool(ok), reason, request_id)
        for at, action, target, by, role, ok, reason, request_id in reversed(rows)
    ]


def _text(request_id: object) -> str | None:
    return None if request_id is None else str(request_id)
