"""The path to the receiver: a TCP connection (optionally TLS) or UDP datagrams.

Both carry one message block at a time and bring back the receiver's answers as raw blocks
(gateway/uplink/frames.py reads them). TCP keeps its connection between messages and makes a
new one when the receiver closed it or stopped answering; UDP has no connection, so a lost
datagram is simply an answer that never comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Protocol, cast

from gateway.uplink.frames import MAX_ANSWER

__all__ = ["PathError", "TcpPath", "Transport", "UdpPath"]

_WAITING_ANSWERS = 16
"""Datagrams kept until read; beyond, the oldest are dropped (they answer nothing now)."""


class PathError(ConnectionError):
    """The path to the receiver failed: no connection, a reset, an ICMP refusal."""


class Transport(Protocol):
    """One path to the receiver.

    `send` raises `PathError` when the block cannot go. `receive` waits for the next answer
    block (the caller bounds the wait) and raises `PathError` when the path breaks meanwhile.
    `reset` drops a connection that stopped answering, so that the next `send` makes a new
    one; `close` ends it for good.
    """

    where: str

    async def send(self, block: bytes) -> None: ...

    async def receive(self) -> bytes: ...

    async def reset(self) -> None: ...

    async def close(self) -> None: ...


class TcpPath:
    """DC-09 over TCP: a connection kept open, remade when needed."""

    def __init__(
        self, host: str, port: int, *, timeout: float, tls: ssl.SSLContext | None = None
    ) -> None:
        self.host, self.port, self.timeout, self.tls = host, port, timeout, tls
        self.where = f"{host}:{port} (TCP{' with TLS' if tls else ''})"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, block: bytes) -> None:
        if self._writer is None or self._writer.is_closing() or self._closed_by_receiver():
            await self._connect()
        assert self._writer is not None
        try:
            self._writer.write(block)
            await asyncio.wait_for(self._writer.drain(), self.timeout)
        except (OSError, TimeoutError) as error:
            await self.reset()
            raise PathError(f"cannot send to {self.where}: {_why(error)}") from None

    async def receive(self) -> bytes:
        if self._reader is None:
            raise PathError(f"not connected to {self.where}")
        try:
            line = await self._reader.readuntil(b"\r")
        except asyncio.IncompleteReadError:
            await self.reset()
            raise PathError(f"{self.where} closed the connection") from None
        except asyncio.LimitOverrunError:
            await self.reset()
            raise PathError(
                f"{self.where} sent more than {MAX_ANSWER} bytes without an end"
            ) from None
        except OSError as error:
            await self.reset()
            raise PathError(f"connection to {self.where} failed: {_why(error)}") from None
        return line

    async def reset(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def close(self) -> None:
        await self.reset()

    def _closed_by_receiver(self) -> bool:
        return self._reader is not None and self._reader.at_eof()

    async def _connect(self) -> None:
        await self.reset()
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls else None,
                    limit=MAX_ANSWER,
                ),
                self.timeout,
            )
        except (OSError, TimeoutError) as error:
            raise PathError(f"cannot connect to {self.where}: {_why(error)}") from None


class UdpPath(asyncio.DatagramProtocol):
    """DC-09 over UDP: each block one datagram, each answer one datagram."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.where = f"{host}:{port} (UDP)"
        self._transport: asyncio.DatagramTransport | None = None
        self._answers: asyncio.Queue[bytes | OSError] = asyncio.Queue(_WAITING_ANSWERS)

    async def send(self, block: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            await self._open()
        assert self._transport is not None
        self._transport.sendto(block)

    async def receive(self) -> bytes:
        answer = await self._answers.get()
        if isinstance(answer, OSError):
            raise PathError(f"{self.where}: {_why(answer)}")
        return answer

    async def reset(self) -> None:
        while not self._answers.empty():
            self._answers.get_nowait()

    async def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if len(data) <= MAX_ANSWER:
            self._keep(data)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):  # an ICMP refusal of the datagram just sent
            self._keep(exc)

    def _keep(self, answer: bytes | OSError) -> None:
        if self._answers.full():
            self._answers.get_nowait()
        self._answers.put_nowait(answer)

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(lambda: self, remote_addr=(self.host, self.port))
        except OSError as error:
            raise PathError(f"cannot reach {self.where}: {_why(error)}") from None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport is a DatagramTransport, though CPython 3.11's
        # selector transport does not say so by its class (fixed in 3.12).
        self._transport = cast(asyncio.DatagramTransport, transport)


def _why(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({error.verify_message})"
    return error.strerror or str(error) if isinstance(error, OSError) else str(error)
