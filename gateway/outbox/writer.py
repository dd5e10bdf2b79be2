"""`OutboxWriter`: turns a stream of single lines into a few large outbox transactions, and
keeps a failing disk from holding up the readings, and with them the fire alarms.

That batching is what makes tens of thousands of readings a second affordable on an SD card.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Sequence

from core import FULL_JITTER, Backoff, ConnectionHealth
from gateway.outbox.store import Outbox, OutboxClosedError
from gateway.sqlitefile import STORAGE_ERRORS, is_full

__all__ = ["OutboxWriter"]

log = logging.getLogger(__name__)

RETRY_INITIAL = 0.5
RETRY_CAP = 10.0
"""Seconds between attempts while the outbox cannot be written, doubling up to the cap (with
full jitter): a disk an engineer has cleared is written to again within seconds."""

COMMIT_INTERVAL = 1.0
"""Seconds between commits of readings while they keep coming. Every commit rewrites the pages
it touches, in the WAL and again at the checkpoint, so on an SD card the number of commits,
not the bytes of the lines, is what wears it: at the reference site's 500 readings a second a
commit every 50 ms wrote about 760 bytes per reading, one a second writes about 30. The price
is what a kill -9 or a crash can lose: up to this long of readings (alarm events, and lines
after a quiet second, are committed within `max_delay`)."""

MAX_KEPT = 10_000
"""Alarm event lines kept in memory while the outbox cannot be written. Alarm events are few
(a flood of 40 cameras is 80), so this is hours of a bad day; beyond it they are counted as
dropped like readings, and logged."""


class OutboxWriter:
    """Batches single lines into few, large `Outbox.append` transactions.

    Producers `put` lines into a bounded queue (about 50,000 lines, so a stalled disk slows
    the producers down instead of eating the memory); `run` takes whatever is waiting, up to
    `max_batch` lines, waits for more, and commits the batch: `max_delay` seconds after its
    first line, but not sooner than `commit_interval` after the previous commit. A line of the
    `never_drop` measurements (an alarm event) and a `flush` cut the wait to `max_delay`.

    A disk that fails (full, I/O errors) must not stop the readings, because the readings are
    what the rules raise fire alarms from. While the outbox cannot be written, `run` retries
    the batch in hand with backoff, and the producers never wait: once the queue is full, the
    oldest queued reading makes room for the newest (the newest matter most for an incident in
    progress) and is counted in `dropped`. Lines of the `never_drop` measurements (alarm
    events) are not dropped: they wait aside in memory and are written first once the outbox
    works again. The failure is logged once (at ERROR, with what happens meanwhile), the
    recovery once, with the count; `full` says whether the disk is full.

    Guarantees: `flush` returns once every line put before the call is committed (or was
    dropped and counted). When the task running `run` is cancelled, it first commits the batch
    in hand and everything still queued, then re-raises, so nothing accepted into the queue
    is lost on a clean shutdown; if the outbox cannot be written then, what is left is counted
    in `dropped` and logged. `close` refuses further lines and commits the rest, whether or
    not `run` is running.

    Args:
        outbox: the open outbox to append to.
        max_batch: most lines per transaction.
        max_delay: how long, in seconds, a batch waits for more lines after its first one.
        commit_interval: the least time, in seconds, between two commits of readings.
        maxsize: capacity of the queue in lines.
        on_commit: called after each committed batch, for example a sink's ``wake``.
        never_drop: measurements whose lines are kept while the outbox fails (alarm events).
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        max_batch: int = 5000,
        max_delay: float = 0.05,
        commit_interval: float = COMMIT_INTERVAL,
        maxsize: int = 50_000,
        on_commit: Callable[[], None] | None = None,
        never_drop: Sequence[str] = (),
        retry_initial: float = RETRY_INITIAL,
        retry_cap: float = RETRY_CAP,
    ) -> None:
        self._outbox = outbox
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._commit_interval = commit_interval
        self._last_commit = -math.inf
        self._hurry_until = 0
        """Lines accepted up to this count are committed without `commit_interval`'s wait."""
        self._maxsize = maxsize
        self._on_commit = on_commit
        self._never_drop = tuple(f"{name}," for name in never_drop)
        self._queue: deque[str] = deque()
        self._kept: deque[str] = deque()
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._batch: list[str] = []
        self._commit_lock = asyncio.Lock()
        self._committed = asyncio.Condition()
        self._backoff = Backoff(retry_initial, retry_cap, spread=FULL_JITTER)
        self._accepted = 0
        self._running = False
        self._closed = False
        self.written = 0
        """Lines committed to the outbox by this writer."""
        self.dropped = 0
        """Lines never stored because the outbox could not be written (readings, and alarm
        events only beyond `MAX_KEPT` or at a shutdown with the disk still failing)."""
        self.full = False
        """Whether the latest failure was a full disk."""
        self.health = ConnectionHealth(
            log,
            f"outbox {outbox.path}",
            retrying=(
                f"readings wait in memory (up to {maxsize}, then the oldest are dropped and "
                "counted), alarm events are kept, and the fire alarms go on"
            ),
            level=logging.ERROR,
        )

    @property
    def pending(self) -> int:
        """Lines accepted but not yet committed (or dropped)."""
        return self._accepted - self.written - self.dropped

    @property
    def failing(self) -> bool:
        """Whether the latest attempt to commit failed."""
        return self.health.failures > 0

    def put_nowait(self, line: str) -> None:
        """Accept `line` without waiting.

        Raises:
            asyncio.QueueFull: the queue is full; the disk is not keeping up.
            OutboxClosedError: the writer was closed.
        """
        self._check_open()
        if len(self._queue) >= self._maxsize:
            if not self.failing:
                raise asyncio.QueueFull
            self._shed()
        self._accept(line)

    async def put(self, line: str) -> None:
        """Accept `line`, waiting while the queue is full (but never while the outbox fails)."""
        self._check_open()
        while len(self._queue) >= self._maxsize and not self.failing:
            self._room.clear()
            await self._room.wait()
        if len(self._queue) >= self._maxsize:
            self._shed()
        self._accept(line)

    async def run(self) -> None:
        """Commit batches until cancelled; on cancellation commit everything queued first."""
        self._running = True
        try:
            while True:
                await self._fill_batch()
                await self._commit_or_wait()
        except asyncio.CancelledError:
            await self._commit_rest(give_up=True)
            raise
        finally:
            self._running = False

    async def flush(self) -> None:
        """Return once every line accepted before this call is committed (or dropped)."""
        target = self._hurry_until = self._accepted
        self._arrived.set()  # a batch waiting for the next commit goes now
        if not self._running or (self._closed and self.failing):
            await self._commit_rest(give_up=self._closed)
        async with self._committed:
            await self._committed.wait_for(lambda: self.written + self.dropped >= target)

    async def close(self) -> None:
        """Refuse further lines and commit everything accepted so far."""
        self._closed = True
        await self.flush()

    def _check_open(self) -> None:
        if self._closed:
            raise OutboxClosedError(f"writer for outbox {self._outbox.path} is closed")

    def _accept(self, line: str) -> None:
        self._queue.append(line)
        self._accepted += 1
        if line.startswith(self._never_drop):
            self._hurry_until = self._accepted
        self._arrived.set()

    def _shed(self) -> None:
        """Make room while the outbox fails: the oldest queued line goes (an alarm event
        line goes aside, to wait)."""
        line = self._queue.popleft()
        if line.startswith(self._never_drop) and len(self._kept) < MAX_KEPT:
            self._kept.append(line)
            return
        if line.startswith(self._never_drop):
            log.error("outbox %s: an alarm event line was dropped: %s", self._outbox.path, line)
        self.dropped += 1

    async def _fill_batch(self) -> None:
        """Take lines into the batch: at least one, then more until it is full or its time has
        come (`max_delay` after its first line; for readings, not before `commit_interval`
        after the previous commit)."""
        while not self._batch:
            self._take_waiting()
            if self._batch:
                break
            self._arrived.clear()
            await self._arrived.wait()
        loop = asyncio.get_running_loop()
        gathered = loop.time() + self._max_delay
        while self._take_waiting():
            deadline = gathered
            if self.written + self.dropped >= self._hurry_until:  # readings only: no hurry
                deadline = max(gathered, self._last_commit + self._commit_interval)
            if loop.time() >= deadline:
                return
            self._arrived.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await self._arrived.wait()
            except TimeoutError:
                return

    def _take_waiting(self) -> bool:
        """Move waiting lines (kept alarm events first) into the batch without waiting; True
        while the batch has room."""
        for source in (self._kept, self._queue):
            while len(self._batch) < self._max_batch and source:
                self._batch.append(source.popleft())
        self._room.set()
        return len(self._batch) < self._max_batch

    async def _commit_or_wait(self) -> None:
        """Commit the batch; if the disk fails, say so once and wait before the next try."""
        try:
            await self._commit_batch()
        except STORAGE_ERRORS as error:
            self._failed(error)
            await asyncio.sleep(self._backoff.next_delay())
            return
        if self.failing:
            self.full = False
            self._backoff.reset()
            self.health.recovered(f"storing again ({self.dropped} lines not stored so far)")

    def _failed(self, error: Exception) -> None:
        self.full = is_full(error)
        self.health.failed(str(error))
        self._room.set()  # producers waiting for room must not wait any more

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
            self._last_commit = asyncio.get_running_loop().time()
        await self._notify()
        if self._on_commit is not None:
            self._on_commit()

    async def _notify(self) -> None:
        async with self._committed:
            self._committed.notify_all()

    async def _commit_rest(self, *, give_up: bool) -> None:
        """Commit the batch in hand and everything queued, in order. With `give_up`, a disk
        that fails now costs what is left, counted and logged, instead of raising."""
        while self._batch or self._queue or self._kept:
            self._take_waiting()
            try:
                await self._append_batch()
            except STORAGE_ERRORS as error:
                if not give_up:
                    raise
                self._give_up(error)
        await self._notify()

    def _give_up(self, error: Exception) -> None:
        left = len(self._batch) + len(self._queue) + len(self._kept)
        self._batch, self._queue, self._kept = [], deque(), deque()
        self.dropped += left
        log.error(
            "outbox %s: %d lines could not be stored before stopping (%s); %d dropped in all",
            self._outbox.path,
            left,
            error,
            self.dropped,
        )
