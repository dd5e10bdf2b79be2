"""The Modbus TCP client against scripted peers over real sockets: frames cut anywhere or sent
together, late answers to earlier requests, a stream out of step; and `parse_answer` on the
PDUs a unit can send."""

from __future__ import annotations

import asyncio
import struct

import pytest

from drivers.modbus.client import MalformedAnswer, NoAnswer, NotConnected, parse_answer
from drivers.modbus.merge import PointRead, Request
from drivers.modbus.profile import Function
from drivers.modbus.tcp import SWEEP, TcpClient, Timeouts
from tests.drivers.modbus.helpers import device, tcp_peer


def request(function: Function = Function.INPUT_REGISTER, count: int = 3) -> Request:
    point = PointRead(device("SD-1", 1), device("SD-1", 1).profile.points[0])
    return Request(unit=1, function=function, address=0, count=count, reads=(point,))


def answer_frame(transaction: int, registers: list[int], unit: int = 1) -> bytes:
    body = struct.pack(">BB", 4, 2 * len(registers)) + struct.pack(
        f">{len(registers)}H", *registers
    )
    return struct.pack(">HHHB", transaction, 0, len(body) + 1, unit) + body


async def read_request(reader: asyncio.StreamReader) -> int:
    transaction, _, length, _ = struct.unpack(">HHHB", await reader.readexactly(7))
    await reader.readexactly(length - 1)
    return int(transaction)


async def test_an_answer_cut_into_single_bytes_or_sent_with_a_late_one_is_read_whole() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await read_request(reader)
        for byte in answer_frame(first, [1, 2, 3]):  # one byte at a time
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.001)
        second = await read_request(reader)  # a stale answer, then the right one, together
        writer.write(answer_frame(first, [9, 9, 9]) + answer_frame(second, [4, 5, 6]))
        await asyncio.Event().wait()

    lost: list[bool] = []
    async with tcp_peer(serve) as port:
        client = TcpClient("127.0.0.1", port, 2.0, lambda: lost.append(True))
        assert await client.connect()
        assert (await client.read(request())).values == [1, 2, 3]
        assert (await client.read(request())).values == [4, 5, 6]
        client.close()
    assert not lost  # closing is no loss


async def test_a_silent_peer_is_no_answer_and_a_closed_one_is_lost() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)  # never answered
        await read_request(reader)  # then the peer goes away

    lost: list[bool] = []
    async with tcp_peer(serve) as port:
        client = TcpClient("127.0.0.1", port, 0.3, lambda: lost.append(True))
        assert await client.connect()
        with pytest.raises(NoAnswer):
            await client.read(request())
        with pytest.raises(NotConnected):
            await client.read(request())
        assert not client.connected
    assert lost == [True]


async def test_a_stream_out_of_step_is_dropped_with_the_reason() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transaction = await read_request(reader)
        writer.write(struct.pack(">HHHB", transaction, 7, 5, 1) + b"\x04\x02\x00\x01")
        await asyncio.Event().wait()

    lost: list[bool] = []
    async with tcp_peer(serve) as port:
        client = TcpClient("127.0.0.1", port, 2.0, lambda: lost.append(True))
        assert await client.connect()
        with pytest.raises(MalformedAnswer, match="protocol 7, length 5: not a Modbus TCP"):
            await client.read(request())
        await asyncio.sleep(0.1)
        assert not client.connected
    assert lost == [True]


@pytest.mark.parametrize(
    ("pdu", "function", "values", "exception"),
    [
        (b"\x04\x06\x00\x01\x00\x02\x00\x03", 4, [1, 2, 3], None),
        (b"\x84\x02", 4, [], 2),
        (b"\x03\x06\x00\x01\x00\x02\x00\x03", 3, [], None),  # another function: the link's
    ],
)
def test_a_reply_is_read_as_what_it_says(
    pdu: bytes, function: int, values: list[int], exception: int | None
) -> None:
    answer = parse_answer(1, pdu, request())
    assert (answer.function, answer.values, answer.exception) == (function, values, exception)


def test_bits_come_lowest_first_and_only_as_many_as_asked() -> None:
    answer = parse_answer(1, b"\x02\x02\x05\x01", request(Function.DISCRETE_INPUT, 10))
    assert answer.values == [True, False, True, False, False, False, False, False, True, False]


@pytest.mark.parametrize(
    ("pdu", "why"),
    [
        (b"", "an empty answer"),
        (b"\x84", "an exception answer of 1 bytes"),
        (b"\x04\x08\x00\x01\x00\x02\x00\x03", "says 8 data bytes but carries 6"),
        (b"\x04\x04\x00\x01\x00\x02", "4 data bytes for 3 registers asked"),
        (b"\x04", "an answer without a byte count"),
    ],
)
def test_a_malformed_reply_is_refused_never_read_as_values(pdu: bytes, why: str) -> None:
    with pytest.raises(MalformedAnswer, match=why):
        parse_answer(1, pdu, request())


async def test_connections_sharing_their_timeouts_time_out_alone_and_in_time() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)

    async def answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(answer_frame(await read_request(reader), [7, 8, 9]))

    timeouts = Timeouts()
    async with tcp_peer(silent) as quiet_port, tcp_peer(answering) as port:
        quiet = TcpClient("127.0.0.1", quiet_port, 0.3, lambda: None, timeouts=timeouts)
        talking = TcpClient("127.0.0.1", port, 0.3, lambda: None, timeouts=timeouts)
        assert await quiet.connect()
        assert await talking.connect()
        loop = asyncio.get_running_loop()
        for _ in range(3):
            started = loop.time()
            unanswered = asyncio.ensure_future(quiet.read(request()))
            assert (await talking.read(request())).values == [7, 8, 9]
            with pytest.raises(NoAnswer):
                await unanswered
            assert 0.3 <= loop.time() - started < 0.3 + SWEEP + 2.0  # margin for a loaded machine
        quiet.close()
        talking.close()
