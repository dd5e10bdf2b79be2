"""Deliver the outbox to an InfluxDB 2.x-compatible server through ``/api/v2/write``.

Uses influxdb-client's async client (`InfluxDBClientAsync` and its write API) with org, bucket
and an API token; batching, splitting, backoff and Retry-After are shared with the other sinks
(`gateway.sinks.delivery`).

Compression: the client can gzip a write itself (``enable_gzip``), but it does so at level 9
on the event loop, which on a Pi stalls the loop (and so alarm publication) for tens of
milliseconds per batch. The shared delivery code compresses each batch at level 1 on a worker
thread instead, and this sink hands the client the compressed line protocol with a
``Content-Encoding: gzip`` header on its HTTP session; the client passes bytes through as is.
"""

from __future__ import annotations

import logging
import ssl
from typing import cast

import aiohttp
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.domain.write_precision import WritePrecision

from gateway.sinks.delivery import SPLIT_STATUSES, OutboxSink, SinkError, retry_after
from gateway.sinks.unreachable import unreachable

__all__ = ["InfluxV2Sink"]

logger = logging.getLogger(__name__)

_NANOSECONDS = cast("WritePrecision", WritePrecision.NS)
"""influxdb-client types `write_precision` as its `WritePrecision` class, whose members are
plain strings."""


class InfluxV2Sink(OutboxSink):
    """Writes what waits in an `Outbox` to one InfluxDB 2.x bucket, forever.

    Args:
        url: the server, for example ``http://127.0.0.1:8086``.
        org: the organization (name or id) that owns the bucket.
        bucket: the bucket to write to.
        token: an API token with write access to the bucket.
        name: the sink's name, under which its position in the outbox is kept.
        timeout: seconds to wait for one request.
        batch_size, retry_initial, retry_max: see `OutboxSink`.
    """

    def __init__(
        self,
        url: str,
        org: str,
        bucket: str,
        token: str,
        *,
        name: str = "influxdb",
        batch_size: int = 5000,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        timeout: float = 10.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(
            name, url, batch_size=batch_size, retry_initial=retry_initial, retry_max=retry_max
        )
        self.org = org
        self.bucket = bucket
        self._token = token
        self._timeout = timeout
        self._tls = tls
        self._client: InfluxDBClientAsync | None = None

    async def close(self) -> None:
        """Close the client's HTTP session; call after the task running `run` has ended."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()  # type: ignore[no-untyped-call]  # influxdb-client's

    async def _write(self, body: bytes) -> None:
        """Send one gzip-compressed batch; raise `SinkError` unless the server took it all."""
        write_api = self._connect().write_api()
        try:
            await write_api.write(self.bucket, self.org, body, write_precision=_NANOSECONDS)
        except InfluxDBError as error:
            raise self._explained(_error_from(error)) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise unreachable(self.url, error) from error

    def _explained(self, error: SinkError) -> SinkError:
        """A token refused, or without rights on the bucket, with the setting to check."""
        if error.status not in (401, 403):
            return error
        hint = (
            f"check the token of influxdb connection {self.name!r} in the site file: it must "
            f"be valid and may write to bucket {self.bucket!r} of org {self.org!r}"
        )
        return SinkError(
            error.status, error.retryable, error.retry_after, f"{error.message}; {hint}"
        )

    def _connect(self) -> InfluxDBClientAsync:
        """The client, made on first use: it must be created inside the running loop."""
        if self._client is None:
            self._client = InfluxDBClientAsync(
                self._server,
                self._token,
                self.org,
                timeout=int(self._timeout * 1000),
                client_session_kwargs={"headers": {"Content-Encoding": "gzip"}},
                **({"ssl_context": self._tls} if self._tls is not None else {}),
            )
        return self._client


def _error_from(error: InfluxDBError) -> SinkError:
    """Turn the client's error into a `SinkError` carrying the server's own words."""
    response = getattr(error, "response", None)
    status = getattr(response, "status", None)
    message = error.message
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    if status is None:
        return SinkError(None, retryable=True, message=f"InfluxDB client: {text}")
    return SinkError(
        status,
        retryable=status not in SPLIT_STATUSES,
        retry_after=retry_after(error.retry_after),
        message=f"HTTP {status}: {text.strip()[:1000]}",
    )
