"""`OutboxWriter`: turns a stream of single lines into a few large outbox transactions.

That batching is what makes tens of thousands of readings a second affordable on an SD card.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.outbox.store import Outbox, OutboxClosedError

__all__ = ["OutboxWriter"]


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
