"""Deliver the outbox to an InfluxDB 1.x server through its HTTP ``/write`` API.

Batching, splitting of rejected batches, backoff and Retry-After are shared with the other
sinks (`gateway.sinks.delivery`); this module only knows the 1.x API: database, retention
policy, basic authentication, and ``CREATE DATABASE`` through ``/query``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
from typing import Any

import aiohttp

from gateway.config import redact_urls
from gateway.sinks.delivery import SPLIT_STATUSES, OutboxSink, SinkError, retry_after
from gateway.sinks.unreachable import unreachable

__all__ = ["InfluxV1Sink"]

logger = logging.getLogger(__name__)

_GZIP_HEADERS = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}


class InfluxV1Sink(OutboxSink):
    """Writes what waits in an `Outbox` to one InfluxDB 1.x database, forever.

    Args:
        url: the server, for example ``http://127.0.0.1:8086``.
        database: the database to write to.
        name: the sink's name, under which its position in the outbox is kept.
        retention_policy: the retention policy, or None for the database's default.
        username: user for HTTP basic authentication, or None when auth is off.
        password: that user's password.
        create_database: send ``CREATE DATABASE`` before the first write (and again if the
            server says the database is gone); a no-op when it exists.
        timeout: seconds to wait for one request.
        batch_size, retry_initial, retry_max: see `OutboxSink`.
    """

    def __init__(
        self,
        url: str,
        database: str,
        *,
        name: str = "influxdb",
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        batch_size: int = 5000,
        create_database: bool = True,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        timeout: float = 10.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(
            name, url, batch_size=batch_size, retry_initial=retry_initial, retry_max=retry_max
        )
        self.database = database
        self._tls = tls
        self._params = {"db": database, "precision": "ns"}
        if retention_policy:
            self._params["rp"] = retention_policy
        self._username = username
        self._auth = aiohttp.BasicAuth(username, password or "") if username else None
        self._create_database = create_database
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP session; call after the task running `run` has ended."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _prepare(self) -> None:
        if self._create_database:
            await self._ensure_database()

    async def _recover(self, error: SinkError) -> None:
        if error.status == 404 and self._create_database:
            await self._ensure_database()  # someone dropped the database

    async def _write(self, body: bytes) -> None:
        """POST one batch to ``/write``; raise `SinkError` unless the server took it all."""
        try:
            await self._post("/write", params=self._params, data=body, headers=_GZIP_HEADERS)
        except SinkError as error:
            raise self._explained(error) from None

    def _explained(self, error: SinkError) -> SinkError:
        """A refusal that will not mend by itself, with the setting to check: a login
        refused, a user without rights on the database, a database that is not there."""
        who = f"user {self._username!r}" if self._username else "an anonymous client"
        setting = f"the username and password of influxdb connection {self.name!r}"
        hints = {
            401: f"the server refused the login of {who}: check {setting} in the site file",
            403: f"{who} may not write to database {self.database!r}: "
            f"GRANT WRITE ON {_quote_identifier(self.database)} TO the user, as an admin",
            404: f"database {self.database!r} does not exist and {who} may not create it: "
            f"CREATE DATABASE {_quote_identifier(self.database)} as an admin",
        }
        hint = hints.get(error.status or 0)
        if hint is None:
            return error
        return SinkError(
            error.status, error.retryable, error.retry_after, f"{error.message}; {hint}"
        )

    async def _ensure_database(self) -> None:
        """Create the database, retrying until the server answers.

        A refusal (a user without admin rights, a login refused) is logged at debug level
        only: the database may well exist, and if it does not, the writes say so, once,
        naming what to do (`_explained`).
        """
        query = {"q": f"CREATE DATABASE {_quote_identifier(self.database)}"}
        while True:
            try:
                _raise_for_query_error(await self._post("/query", data=query))
            except SinkError as error:
                if error.status is None or error.status >= 500 or error.status == 429:
                    await self._wait_after(error)
                    continue
                logger.debug(
                    "InfluxDB %s: cannot create database %r: %s",
                    self.url,
                    self.database,
                    redact_urls(str(error)),
                )
            return

    async def _post(self, path: str, **kwargs: Any) -> bytes:
        """POST to the server; return the body of a 2xx answer, raise `SinkError` otherwise."""
        try:
            async with self._http().post(f"{self._server}{path}", **kwargs) as response:
                body = await response.read()
                if response.status >= 300:
                    raise _error_from(response, body)
                return body
        except (aiohttp.ClientError, TimeoutError) as error:
            raise unreachable(self.url, error) from error

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._tls) if self._tls is not None else None
            self._session = aiohttp.ClientSession(
                auth=self._auth, timeout=self._timeout, connector=connector
            )
        return self._session


def _quote_identifier(name: str) -> str:
    """An InfluxQL double-quoted identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _error_from(response: aiohttp.ClientResponse, body: bytes) -> SinkError:
    """Turn a non-2xx response into a `SinkError` carrying the server's own words."""
    status = response.status
    return SinkError(
        status,
        retryable=status not in SPLIT_STATUSES,
        retry_after=retry_after(response.headers.get("Retry-After")),
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
