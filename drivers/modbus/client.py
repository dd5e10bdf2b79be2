"""What a Modbus connection does for the poller, whatever carries it: ask one read, get its answer.

`Client` is the interface (a TCP socket in `tcp`, an RS-485 line through pymodbus in `rtu`);
`Answer` is one reply, decoded from the bytes of its PDU by `parse_answer`, which refuses a
malformed one rather than guess at it. Checking that the answer is to the question asked
(function, unit) is the link's, for every kind of connection alike.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from drivers.modbus.merge import Request


@dataclass(frozen=True, slots=True)
class Answer:
    """One reply: the unit and function code it carries, and either the values read or the
    exception code the unit answered with."""

    unit: int
    function: int
    """The function code without the exception bit."""
    values: list[int] | list[bool]
    exception: int | None = None


class NotConnected(Exception):
    """The connection is down, or went down while the request was out."""


class NoAnswer(Exception):
    """Nothing answered the request within the timeout."""


class MalformedAnswer(Exception):
    """A reply that cannot be read as an answer to a read (its message says why)."""


class Client(Protocol):
    """One Modbus connection, one request at a time (the link serialises them).

    `connect` returns whether it connected, or raises OSError (the caller bounds its time);
    `read` raises `NotConnected`, `NoAnswer` or `MalformedAnswer`; `close` never reports the
    connection as lost, while a connection the peer or the network ends calls the `on_lost`
    the client was made with.
    """

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> bool: ...

    async def read(self, request: Request) -> Answer: ...

    def close(self) -> None: ...


OnLost = Callable[[], None]

_READ = struct.Struct(">BHH")


def read_pdu(request: Request) -> bytes:
    """The PDU of the read: function code, first address, count."""
    return _READ.pack(request.function.code, request.address, request.count)


def parse_answer(unit: int, pdu: bytes | memoryview, request: Request) -> Answer:
    """Decode the PDU of a reply to `request` (function code, byte count, data; or function
    code | 0x80 and an exception code). The byte count must match the data that came and
    cover the count asked for: a short or padded frame is refused, never read as values."""
    if not pdu:
        raise MalformedAnswer("an empty answer: not taken as data")
    function = pdu[0]
    if function & 0x80:
        if len(pdu) != 2:
            raise MalformedAnswer(f"an exception answer of {len(pdu)} bytes: not taken as data")
        return Answer(unit, function & 0x7F, [], exception=pdu[1])
    if function != request.function.code:
        return Answer(unit, function, [])  # the link says whose question it answers
    if len(pdu) < 2:
        raise MalformedAnswer("an answer without a byte count: not taken as data")
    if pdu[1] != len(pdu) - 2:
        raise MalformedAnswer(
            f"the answer says {pdu[1]} data bytes but carries {len(pdu) - 2}: not taken as data"
        )
    data = pdu[2:]
    if request.function.is_bit:
        if len(data) != (request.count + 7) // 8:
            raise MalformedAnswer(_size(len(data), request))
        bits = [bool(byte >> bit & 1) for byte in data for bit in range(8)]
        return Answer(unit, function, bits[: request.count])
    if len(data) != 2 * request.count:
        raise MalformedAnswer(_size(len(data), request))
    return Answer(unit, function, list(struct.unpack(f">{request.count}H", data)))


def _size(got: int, request: Request) -> str:
    table = "bits" if request.function.is_bit else "registers"
    return f"{got} data bytes for {request.count} {table} asked: not taken as data"
