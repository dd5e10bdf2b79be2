"""Deliver the outbox to an InfluxDB 1.x server through its HTTP ``/write`` API.

The sink reads the oldest lines from the outbox in batches, posts them gzip-compressed, and
deletes them only after the server answered 2xx. What to do after a failure depends on what
the server said (the sorting Telegraf's InfluxDB output uses):

- 400 (malformed) or 413 (too large): split the batch in halves until the rejected lines are
  found; write the rest and set the rejected lines aside in the outbox's dead-letter table
  with the server's reason. InfluxDB 1.x writes the good points of a partly bad batch itself,
  so sending them again only overwrites them with the same values.
- 429 or 503 with ``Retry-After``: wait as long as the server asks.
- anything else, or no answer at all: wait with exponential backoff and full jitter, then
  retry the same lines. Nothing is dropped because a server is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import json
import logging
import random
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import aiohttp

from gateway.outbox import Outbox

__all__ = ["InfluxV1Sink", "SinkError"]

logger = logging.getLogger(__name__)

Rows = Sequence[tuple[int, str]]

_SPLIT_STATUSES = frozenset({400, 413})
_GZIP_HEADERS = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}
_IDLE_WAIT = 0.2
_GZIP_LEVEL = 1  # the gain of higher levels on line protocol is small; the CPU is a Pi's


class SinkError(Exception):
    """A write or query the server did not accept, or a server that did not answer.

    Attributes:
        status: the HTTP status, or None when there was no response (connection refused,
            timeout).
        retryable: whether sending the same request again may succeed; False for 400 and 413,
            where only splitting the batch helps.
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


class InfluxV1Sink:
    """Writes what waits in an `Outbox` to one InfluxDB 1.x database, forever.

    Args:
        url: the server, for example ``http://127.0.0.1:8086``.
        database: the database to write to.
        retention_policy: the retention policy, or None for the database's default.
        username: user for HTTP basic authentication, or None when auth is off.
        password: that user's password.
        batch_size: most lines per request.
        create_database: send ``CREATE DATABASE`` before the first write (and again if the
            server says the database is gone); a no-op when it exists.
        retry_initial: first backoff ceiling in seconds; doubles after each failure.
        retry_max: highest backoff ceiling in seconds.
        timeout: seconds to wait for one request.

    Attributes:
        written: points the server has acknowledged.
        rejected: lines set aside as malformed.
        last_error: the most recent failure, None once a write succeeds again.
        last_success: wall-clock time (seconds since the epoch) of the last accepted write.
    """

    def __init__(
        self,
        url: str,
        database: str,
        *,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        batch_size: int = 5000,
        create_database: bool = True,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._params = {"db": database, "precision": "ns"}
        if retention_policy:
            self._params["rp"] = retention_policy
        self._auth = aiohttp.BasicAuth(username, password or "") if username else None
        self._batch_size = batch_size
        self._create_database = create_database
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()
        self._failures = 0
        self.written = 0
        self.rejected = 0
        self.last_error: str | None = None
        self.last_success: float | None = None

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
        """Close the HTTP session; call after the task running `run` has ended."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def wake(self) -> None:
        """Tell an idle sink that new lines are waiting (for example from `OutboxWriter`)."""
        self._wake.set()

    async def run(self, outbox: Outbox) -> None:
        """Deliver `outbox` until cancelled; server failures are retried, never raised."""
        if self._create_database:
            await self._ensure_database()
        while True:
            self._wake.clear()
            rows = await outbox.peek(self._batch_size)
            if not rows:
                await self._idle()
                continue
            try:
                await self._deliver(outbox, rows)
            except SinkError as error:
                await self._wait_after(error)
                if error.status == 404 and self._create_database:
                    await self._ensure_database()  # someone dropped the database

    async def _idle(self) -> None:
        """Wait until woken or a short while has passed, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_IDLE_WAIT):
                await self._wake.wait()

    async def _deliver(self, outbox: Outbox, rows: Rows) -> None:
        """Write `rows`, set aside the ones the server rejects, then remove them all."""
        rejected = await self._write_or_split(rows)
        for bad_rows, reason in rejected:
            await outbox.set_aside(bad_rows, reason)
        if rejected:
            self.rejected += len(rejected)
            logger.warning(
                "InfluxDB %s rejected %d of %d lines, set aside as dead letters; first: %s",
                self.url, len(rejected), len(rows), rejected[0][1],
            )  # fmt: skip
        await outbox.remove_through(rows[-1][0])
        self.written += len(rows) - len(rejected)
        self._succeeded()

    async def _write_or_split(self, rows: Rows) -> list[tuple[Rows, str]]:
        """Write `rows`, halving batches the server rejects; return the lines it refused."""
        try:
            await self._write(rows)
        except SinkError as error:
            if error.status not in _SPLIT_STATUSES:
                raise
            if len(rows) == 1:
                return [(rows, error.message)]
            half = len(rows) // 2
            return await self._write_or_split(rows[:half]) + await self._write_or_split(rows[half:])
        return []

    async def _write(self, rows: Rows) -> None:
        """POST one batch to ``/write``; raise `SinkError` unless the server took it all."""
        text = "\n".join(line for _, line in rows).encode()
        body = await asyncio.get_running_loop().run_in_executor(None, _compress, text)
        await self._post("/write", params=self._params, data=body, headers=_GZIP_HEADERS)

    async def _ensure_database(self) -> None:
        """Create the database, retrying until the server answers.

        A refusal (for example a user without admin rights) is logged and ignored: the
        database may well exist, and if it does not, the writes will say so.
        """
        query = {"q": f"CREATE DATABASE {_quote_identifier(self.database)}"}
        while True:
            try:
                _raise_for_query_error(await self._post("/query", data=query))
            except SinkError as error:
                if error.status is None or error.status >= 500 or error.status == 429:
                    await self._wait_after(error)
                    continue
                logger.warning("InfluxDB %s: cannot create database %r: %s",
                               self.url, self.database, error)  # fmt: skip
            return

    async def _post(self, path: str, **kwargs: Any) -> bytes:
        """POST to the server; return the body of a 2xx answer, raise `SinkError` otherwise."""
        try:
            async with self._http().post(f"{self.url}{path}", **kwargs) as response:
                body = await response.read()
                if response.status >= 300:
                    raise _error_from(response, body)
                return body
        except (aiohttp.ClientError, TimeoutError) as error:
            message = f"no answer from {self.url}: {error!r}"
            raise SinkError(None, retryable=True, message=message) from error

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(auth=self._auth, timeout=self._timeout)
        return self._session

    async def _wait_after(self, error: SinkError) -> None:
        """Log the first failure of a run of failures, then wait before the next attempt."""
        self._failures += 1
        self.last_error = str(error)
        if self._failures == 1:
            logger.warning("InfluxDB %s: %s; retrying in the background", self.url, error)
        else:
            logger.debug("InfluxDB %s: attempt %d failed: %s", self.url, self._failures, error)
        await asyncio.sleep(self._delay(error))

    def _delay(self, error: SinkError) -> float:
        """What the server asked for, else full jitter under an exponentially growing ceiling."""
        if error.retry_after is not None:
            return error.retry_after
        ceiling = self._retry_initial * 2 ** min(self._failures - 1, 32)
        return random.uniform(0, min(self._retry_max, ceiling))

    def _succeeded(self) -> None:
        if self._failures:
            logger.info("InfluxDB %s: writing again after %d failed attempts",
                        self.url, self._failures)  # fmt: skip
        self._failures = 0
        self.last_error = None
        self.last_success = time.time()


def _compress(text: bytes) -> bytes:
    return gzip.compress(text, compresslevel=_GZIP_LEVEL)


def _quote_identifier(name: str) -> str:
    """An InfluxQL double-quoted identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _error_from(response: aiohttp.ClientResponse, body: bytes) -> SinkError:
    """Turn a non-2xx response into a `SinkError` carrying the server's own words."""
    status = response.status
    return SinkError(
        status,
        retryable=status not in _SPLIT_STATUSES,
        retry_after=_retry_after(response.headers.get("Retry-After")),
        message=f"HTTP {status}: {_server_error(body)[:1000]}",
    )


def _server_error(body: bytes) -> str:
    """The ``error`` of InfluxDB's JSON error body, or the body itself when it is not JSON."""
    text = body.decode(errors="replace").strip()
    with contextlib.suppress(ValueError):
        parsed = json.loads(text)
        if isinstance(parsed, dict) and "error" in parsed:
            return str(parsed["error"])
    return text


def _raise_for_query_error(body: bytes) -> None:
    """``/query`` answers 200 even when a statement failed; the error is in the body."""
    with contextlib.suppress(ValueError):
        for result in json.loads(body).get("results", []):
            if "error" in result:
                raise SinkError(200, retryable=False, message=str(result["error"]))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: either a number or an HTTP date."""
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    return None
