"""Leaving a broker is bounded: a gateway that is stopping never waits on a hung broker."""

from __future__ import annotations

import asyncio
import signal
import time

import aiomqtt

from drivers.mqtt import connected
from tests.conftest import MosquittoFactory


async def test_a_cancelled_connection_leaves_a_hung_broker_within_the_goodbye(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    assert broker.process is not None
    inside = asyncio.Event()

    async def hold() -> None:
        client = aiomqtt.Client(broker.host, broker.port, identifier="test-goodbye")
        async with connected(client, goodbye=1.0):
            inside.set()
            while True:  # more than the socket's buffers hold: DISCONNECT waits behind it
                await client.publish("test/goodbye", b"x" * 1_000_000)
                await asyncio.sleep(0.01)

    task = asyncio.create_task(hold())
    await asyncio.wait_for(inside.wait(), 30)
    broker.process.send_signal(signal.SIGSTOP)  # the broker hangs with its socket open
    try:
        await asyncio.sleep(3)  # the client's writes pile up behind the full socket
        began = time.monotonic()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=20)
        took = time.monotonic() - began
    finally:
        broker.process.send_signal(signal.SIGCONT)
    # aiomqtt alone: the cancellation comes back some 10 s later as MqttError("Operation
    # timed out"), which a reconnect loop takes for a lost broker and reconnects.
    assert done, "leaving waited on the hung broker"
    assert task.cancelled(), task
    assert took < 8
