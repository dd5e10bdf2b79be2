"""Modbus TCP: one socket, MBAP framing, one read out at a time, and nothing else.

Written for the poller rather than taken from pymodbus, whose TCP client costs about 40%
more CPU per request than a plain asyncio socket reading the same registers (its transaction
manager, framer and logging layers run for every read): with one small I/O module per
device, the client is much of the gateway's work. Frames are split by the MBAP header's
length; an answer whose transaction id is not the request's (a late answer to a request that
already timed out) is dropped; an answer from another unit is handed to the link, which
refuses it as data. A header that cannot be a Modbus TCP frame means the stream is out of
step: the connection is dropped and made again.
"""

from __future__ import annotations

import asyncio
import struct

from drivers.modbus.client import (
    Answer,
    MalformedAnswer,
    NoAnswer,
    NotConnected,
    OnLost,
    parse_answer,
    read_pdu,
)
from drivers.modbus.merge import Request

_MBAP = struct.Struct(">HHHB")
"""Transaction id, protocol id (0), length of what follows (unit + PDU), unit id."""
_HEADER = 6
"""Bytes before the unit id: a frame is `_HEADER + length` bytes long."""
_MAX_LENGTH = 254
"""Unit id and the longest PDU (253 bytes)."""


SWEEP = 0.05
"""Seconds between checks of the requests out for their timeouts (see `Timeouts`)."""


class Timeouts:
    """The deadlines of the requests out on many connections, checked by one timer every
    `SWEEP` seconds while any is out, instead of a timer of each request's own: with a
    thousand small I/O modules, making and cancelling a timer per request (a heap of a few
    thousand handles compared in Python) was 7% of the gateway's CPU. A request times out up
    to `SWEEP` seconds after its timeout, well within what the link counts as the gateway's
    own lateness."""

    __slots__ = ("_loop", "_out", "_timer")

    def __init__(self) -> None:
        self._out: dict[asyncio.Future[tuple[int, bytes]], float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, waiting: asyncio.Future[tuple[int, bytes]], deadline: float) -> None:
        """Fail `waiting` with `NoAnswer` if it is not done by `deadline` (loop time)."""
        self._out[waiting] = deadline
        loop = asyncio.get_running_loop()
        if self._timer is None or self._loop is not loop:
            self._loop = loop
            self._timer = loop.call_at(loop.time() + SWEEP, self._sweep)

    def forget(self, waiting: asyncio.Future[tuple[int, bytes]]) -> None:
        self._out.pop(waiting, None)

    def _sweep(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        for waiting in [waiting for waiting, deadline in self._out.items() if deadline <= now]:
            del self._out[waiting]
            if not waiting.done():
                waiting.set_exception(NoAnswer())
        self._timer = self._loop.call_at(now + SWEEP, self._sweep) if self._out else None


class _Connection(asyncio.Protocol):
    """The socket's protocol: cuts the byte stream into frames and hands the awaited one on."""

    __slots__ = ("_buffer", "_on_lost", "closing", "transaction", "transport", "waiting")

    def __init__(self, on_lost: OnLost) -> None:
        self._on_lost = on_lost
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Future[tuple[int, bytes]] | None = None
        self.transaction = 0
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) > _HEADER:
            transaction, protocol, length, unit = _MBAP.unpack_from(buffer)
            if protocol != 0 or not 2 <= length <= _MAX_LENGTH:
                self._out_of_step(f"a frame header with protocol {protocol}, length {length}")
                return
            end = _HEADER + length
            if len(buffer) < end:
                return
            pdu = bytes(buffer[_HEADER + 1 : end])
            del buffer[:end]
            waiting = self.waiting
            if waiting is not None and transaction == self.transaction and not waiting.done():
                waiting.set_result((unit, pdu))

    def _out_of_step(self, what: str) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(MalformedAnswer(f"{what}: not a Modbus TCP answer"))
        assert self.transport is not None
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(NotConnected())
        if not self.closing:
            self._on_lost()


class TcpClient:
    """A `Client` for a Modbus TCP endpoint (see `drivers.modbus.client`)."""

    __slots__ = ("_connection", "_on_lost", "_timeouts", "host", "port", "timeout")

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        on_lost: OnLost,
        *,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._on_lost = on_lost
        self._timeouts = timeouts or Timeouts()
        self._connection: _Connection | None = None

    @property
    def connected(self) -> bool:
        connection = self._connection
        return connection is not None and connection.transport is not None

    async def connect(self) -> bool:
        """Connect, closing any connection first (OSError if refused or failed)."""
        self.close()
        loop = asyncio.get_running_loop()
        connection = _Connection(self._on_lost)
        await loop.create_connection(lambda: connection, self.host, self.port)
        self._connection = connection
        return True

    async def read(self, request: Request) -> Answer:
        connection = self._connection
        if connection is None or connection.transport is None:
            raise NotConnected
        loop = asyncio.get_running_loop()
        transaction = connection.transaction = (connection.transaction + 1) & 0xFFFF
        pdu = read_pdu(request)
        header = _MBAP.pack(transaction, 0, len(pdu) + 1, request.unit)
        waiting = connection.waiting = loop.create_future()
        connection.transport.write(header + pdu)
        self._timeouts.watch(waiting, loop.time() + self.timeout)
        try:
            unit, answer = await waiting
        finally:
            self._timeouts.forget(waiting)
            connection.waiting = None
        return parse_answer(unit, answer, request)

    def close(self) -> None:
        """Close the connection, if any, without reporting it lost."""
        connection, self._connection = self._connection, None
        if connection is not None and connection.transport is not None:
            connection.closing = True
            connection.transport.close()
