"""Connections are opened at a bounded pace, with a connect timeout of their own: a start of
many endpoints on a loaded box does not time out every connect at once, and polling on the
connections already up never waits for the others' turns (a fire is read at once)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from drivers.modbus import ModbusDriver
from drivers.modbus.link import CONNECT_TIMEOUT
from drivers.modbus.poller import EndpointPoller
from tests.drivers.modbus.helpers import (
    FIRE,
    TIMEOUT,
    Collector,
    ServerFactory,
    all_good,
    black_hole,
    device,
    endpoint,
    polling,
    unit,
)
from tests.sites import eventually


@contextmanager
def full_listen_queue() -> Iterator[tuple[socket.socket, int]]:
    """A listening socket that accepts nothing, its queue already full: the kernel drops every
    new handshake's SYN, so a connect hangs (retrying the SYN) until the queue has room."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    listener.setblocking(False)
    port = int(listener.getsockname()[1])
    filler = socket.create_connection(("127.0.0.1", port))
    try:
        yield listener, port
    finally:
        filler.close()
        listener.close()


@asynccontextmanager
async def served_after(listener: socket.socket, seconds: float) -> AsyncIterator[None]:
    """Start accepting on `listener` after `seconds` (it then swallows what it is sent)."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(1024):
            pass
        writer.close()

    async def serve() -> asyncio.Server:
        await asyncio.sleep(seconds)
        return await asyncio.start_server(swallow, sock=listener)

    task = asyncio.create_task(serve())
    try:
        yield
    finally:
        if task.done() and not task.cancelled():
            task.result().close()
        task.cancel()


async def test_a_handshake_slower_than_the_request_timeout_still_connects() -> None:
    """Before: the connect timeout was the request timeout (here 0.3 s), so a handshake that a
    loaded box completes in a second failed, and its devices waited a backoff for nothing."""
    with full_listen_queue() as (listener, port):
        poller, sink = EndpointPoller(endpoint(port, device("sd-01", 1))), Collector()
        started = time.monotonic()
        async with served_after(listener, 0.5), polling(poller, sink):
            await eventually(lambda: poller.stats.connects >= 1, within=CONNECT_TIMEOUT + 10)
            took = time.monotonic() - started
    assert poller.stats.connect_failures == 0
    assert took > TIMEOUT  # the kernel retried the SYN: slower than a request may take


async def test_a_fire_is_read_at_once_while_start_up_connects_wait_their_turn(
    modbus_server: ServerFactory,
) -> None:
    server = await modbus_server({1: unit([FIRE, 0, 0])})
    panel = endpoint(server.port, device("sd-01", 1), id_="panel")
    with full_listen_queue() as (_, stuck):
        others = [endpoint(stuck, device(f"io-{n}", 1), id_=f"io-{n}") for n in range(30)]
        driver, sink = ModbusDriver([panel, *others], connects_at_once=4), Collector()
        in_progress: list[int] = []

        def note_turns(_: object = None) -> None:
            waiting = [p for p in driver.pollers if not p.queued]
            in_progress.append(
                sum(p.stats.connects + p.stats.connect_failures == 0 for p in waiting)
            )

        started = time.monotonic()
        async with polling(driver, sink):
            fire = await sink.next("sd-01", all_good, within=30)
            read_after, queued_then = time.monotonic() - started, driver.queued()
            note_turns()
            for _ in range(20):
                await asyncio.sleep(0.1)
                note_turns()
            await eventually(lambda: driver.queued() < queued_then, within=CONNECT_TIMEOUT + 20)
    assert fire["status"].value == "fire"
    assert queued_then > 0  # the others were still waiting their turn...
    assert read_after < CONNECT_TIMEOUT  # ...and the fire did not wait for them
    assert max(in_progress) <= 4


async def test_a_timeout_noticed_late_is_the_gateways_and_does_not_back_the_device_off() -> None:
    """A loop starved while a request is out notices its timeout late, without having read a
    socket that may hold the answer: before, the device was backed off (10 timeouts long) as
    if silent, and with one device per endpoint that silence became a lost link."""
    async with black_hole() as port:
        poller, sink = EndpointPoller(endpoint(port, device("sd-01", 1))), Collector()
        async with polling(poller, sink):
            await eventually(lambda: poller.stats.requests >= 1, within=30)
            time.sleep(1.0)  # noqa: ASYNC251 - the loop starved while the request is out
            late = await sink.next("sd-01")
            await eventually(lambda: poller.stats.requests >= 2, within=2 * TIMEOUT + 0.5)
    assert poller.stats.late_timeouts == 1
    assert "the gateway was" in (late["status"].detail or "")
