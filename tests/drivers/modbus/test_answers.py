"""An answer to another question is never data: a scripted Modbus TCP peer (a panel gateway
with a firmware fault) answers with another function code, another unit, another transaction
id or a wrong byte count, and the detector's readings say so instead of reporting a fire."""

from __future__ import annotations

import asyncio
import logging
import struct
from contextlib import AbstractAsyncContextManager

import pytest

from core import quiet_loop_errors
from core.reading import Quality
from drivers.modbus.poller import EndpointPoller
from tests.drivers.modbus.helpers import FIRE, Collector, device, endpoint, polling, tcp_peer

HOLDING = 3


def faulty_gateway(fault: str) -> AbstractAsyncContextManager[int]:
    """A Modbus TCP peer that answers every read with registers saying fire, but with `fault`
    in the frame: "function", "unit", "transaction" or "byte count"."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            tid, _, length, unit = struct.unpack(">HHHB", await reader.readexactly(7))
            function, _, count = struct.unpack(">BHH", await reader.readexactly(length - 1))
            registers = struct.pack(">H", FIRE) + b"\0\0" * (count - 1)
            size = len(registers) + (3 if fault == "byte count" else 0)
            function = HOLDING if fault == "function" else function
            unit += fault == "unit"
            tid += fault == "transaction"
            body = struct.pack(">BB", function, size) + registers
            writer.write(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
            await writer.drain()

    return tcp_peer(answer)


@pytest.mark.parametrize(
    ("fault", "quality", "detail"),
    [
        (
            "function",
            Quality.DECODE_ERROR,
            "the answer is for function 3, the request was function 4: not taken as data",
        ),
        (
            "unit",
            Quality.DECODE_ERROR,
            "the answer is from unit 2, the request was for unit 1: not taken as data",
        ),
        # an answer with another transaction id is a late one to an earlier request: dropped
        ("transaction", Quality.TIMEOUT, "no response within 0.3 s"),
        (
            "byte count",
            Quality.DECODE_ERROR,
            "the answer says 9 data bytes but carries 6: not taken as data",
        ),
    ],
)
async def test_an_answer_to_another_question_is_never_data(
    fault: str, quality: Quality, detail: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: an answer with another function code was taken as data, and raised a false fire;
    with pymodbus' TCP client, an answer from another unit was a silent timeout and a wrong
    byte count a dropped connection, neither saying what was wrong."""
    caplog.set_level(logging.WARNING)
    quiet_loop_errors(asyncio.get_running_loop(), logging.getLogger("firegw"))
    sink = Collector()
    async with faulty_gateway(fault) as port:
        poller = EndpointPoller(endpoint(port, device("SD-1", 1)))
        async with polling(poller, sink):
            status = (await sink.next("SD-1", lambda b: not b["status"].good))["status"]
            await asyncio.sleep(1.0)  # several more polls, all refused
    assert status.quality is quality
    assert (status.detail or "").startswith(detail)
    assert not any(r.good and r.point == "status" for batch in sink.batches for r in batch)
    assert not [r for r in caplog.records if r.exc_info]  # no tracebacks, however many polls
    loop_errors = [r for r in caplog.records if r.name == "firegw"]
    assert len(loop_errors) <= 1
