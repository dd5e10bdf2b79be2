"""What every sink shares: reading its place in the outbox, splitting, backoff, the error type.

A sink reads the oldest lines it has not delivered yet from its own reader of the outbox,
sends them, and moves its position on only after the server acknowledged them. What to do
after a failure depends on what the server said (the sorting Telegraf's InfluxDB output uses):

- 400 (malformed) or 413 (too large): split the batch in halves until the rejected lines are
  found; write the rest and set the rejected lines aside in the outbox's dead-letter table
  with the server's reason. InfluxDB writes the good points of a partly bad batch itself, so
  sending them again only overwrites them with the same values.
- 429 or 503 with ``Retry-After``: wait as long as the server asks.
- anything else, or no answer at all: wait with exponential backoff and full jitter, then
  retry the same lines. Nothing is dropped because a server is down.

Subclasses only say how one batch is written (`OutboxSink._write`) and, if they need to,
what to do before the first write and after a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import logging
import time
from types import TracebackType
from typing import Self

from core import FULL_JITTER, Backoff, ConnectionHealth, FiregwError
from gateway.config import redact_url, redact_urls
from gateway.outbox import Outbox, OutboxReader, Rows

__all__ = ["OutboxSink", "SinkError", "compress", "retry_after"]

logger = logging.getLogger(__name__)


SPLIT_STATUSES = frozenset({400, 413})
"""Statuses where only a smaller batch can help: the server refused what it was given."""

_IDLE_WAIT = 0.2
_GZIP_LEVEL = 1  # the gain of higher levels on line protocol is small; the CPU is a Pi's


class SinkError(FiregwError):
    """A write or query the server did not accept, or a server that did not answer.

    Attributes:
        status: the HTTP status, or None when there was no response (connection refused,
            timeout).
        retryable: whether sending the same lines again may succeed. False when the server
            refused them as they are (400 malformed, 413 too large): the batch is then split
            until the refused lines are found, and those are set aside as dead letters.
        retry_after: seconds the server asked to wait (``Retry-After``), if it did.
        message: the server's error text, or what went wrong with the connection.
    """

    def __init__(
        self,
        status: int | None,
        retryable: bool,
        retry_after: float | None = None,
        message: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.message = message


class OutboxSink:
    """Delivers what waits in an `Outbox` to one server, forever; subclasses write a batch.

    Args:
        name: the sink's name; its position in the outbox is kept under this name, so it
            must be one of the names the outbox was opened with.
        url: the server. Requests go to it as given (`server`); everything shown, in logs,
            errors and the status document, gets `url`, with any user name, password or
            query replaced by `***` (`http://***@db:8086`).
        batch_size: most lines per request.
        retry_initial: first backoff ceiling in seconds; doubles after each failure.
        retry_max: highest backoff ceiling in seconds.

    Attributes:
        url: the server as it may be shown (redacted).
        written: points the server has acknowledged.
        rejected: lines set aside as malformed.
        last_error: the most recent failure, None once a write succeeds again.
        last_success: wall-clock time (seconds since the epoch) of the last accepted write.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        batch_size: int = 5000,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
    ) -> None:
        self.name = name
        self._server = url.rstrip("/")
        self.url = redact_url(self._server)
        self._batch_size = batch_size
        self._backoff = Backoff(retry_initial, retry_max, spread=FULL_JITTER)
        self.health = ConnectionHealth(
            logger, f"{name} {self.url}", retrying="retrying in the background"
        )
        self._wake = asyncio.Event()
        self.written = 0
        self.rejected = 0
        self.last_success: float | None = None

    @property
    def last_error(self) -> str | None:
        """The most recent failure, None once a write succeeds again."""
        return self.health.last_error

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Release the connection; call after the task running `run` has ended."""

    def wake(self) -> None:
        """Tell an idle sink that new lines are waiting (for example from `OutboxWriter`)."""
        self._wake.set()

    async def run(self, outbox: Outbox) -> None:
        """Deliver `outbox` from this sink's position until cancelled; failures are retried."""
        reader = outbox.reader(self.name)
        await self._prepare()
        while True:
            self._wake.clear()
            rows = await reader.peek(self._batch_size)
            if not rows:
                await self._idle()
                continue
            try:
                await self._deliver(reader, rows)
            except SinkError as error:
                await self._wait_after(error)
                await self._recover(error)

    async def _prepare(self) -> None:
        """Before the first write: for example create the database."""

    async def _recover(self, error: SinkError) -> None:
        """After a failed write and its wait: for example create a database that is gone."""

    async def _write(self, body: bytes) -> None:
        """Send one gzip-compressed batch; raise `SinkError` unless the server took it all."""
        raise NotImplementedError

    async def _idle(self) -> None:
        """Wait until woken or a short while has passed, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_IDLE_WAIT):
                await self._wake.wait()

    async def _deliver(self, reader: OutboxReader, rows: Rows) -> None:
        """Write `rows`, set aside the ones the server rejects, then move past them all."""
        rejected = await self._write_or_split(rows)
        for bad_rows, reason in rejected:
            await reader.set_aside(bad_rows, reason)
        if rejected:
            self.rejected += len(rejected)
            logger.warning(
                "%s %s rejected %d of %d lines, set aside as dead letters; first: %s",
                self.name,
                self.url,
                len(rejected),
                len(rows),
                redact_urls(rejected[0][1]),
            )
        await reader.advance(rows[-1][0])
        self.written += len(rows) - len(rejected)
        self._succeeded()

    async def _write_or_split(self, rows: Rows) -> list[tuple[Rows, str]]:
        """Write `rows`, halving batches the server rejects; return the lines it refused."""
        try:
            await self._write(await _compressed(rows))
        except SinkError as error:
            if error.retryable:
                raise
            if len(rows) == 1:
                return [(rows, error.message)]
            half = len(rows) // 2
            return await self._write_or_split(rows[:half]) + await self._write_or_split(rows[half:])
        return []

    async def _wait_after(self, error: SinkError) -> None:
        """Log the first failure of a run of failures, then wait before the next attempt:
        as long as the server asked, else full jitter under an exponentially growing ceiling."""
        self.health.failed(redact_urls(str(error)))
        delay = self._backoff.next_delay()
        await asyncio.sleep(delay if error.retry_after is None else error.retry_after)

    def _succeeded(self) -> None:
        self.health.recovered("writing again")
        self._backoff.reset()
        self.last_success = time.time()


async def _compressed(rows: Rows) -> bytes:
    """The rows' lines, newline-separated and gzip-compressed off the event loop."""
    text = "\n".join(line for _, line in rows).encode()
    return await asyncio.get_running_loop().run_in_executor(None, compress, text)


def compress(text: bytes) -> bytes:
    """Gzip at a low level: most of the gain on line protocol for a fraction of the CPU."""
    return gzip.compress(text, compresslevel=_GZIP_LEVEL)


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: either a number or an HTTP date."""
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    return None
