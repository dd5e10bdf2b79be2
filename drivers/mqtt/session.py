"""`connected`: an aiomqtt client's connection, whose goodbye is bounded.

aiomqtt's `async with client` sends DISCONNECT on the way out and then waits for the broker.
With a broker that hangs (or writes stuck behind a full socket), a cancelled connection ends
some 10 s later with MqttError("Operation timed out") in place of its cancellation, and a
reconnect loop takes that for a lost broker and reconnects: a gateway told to stop (SIGTERM,
systemd's stop) went on running. `connected` gives the goodbye `GOODBYE_S` and then leaves
the connection to the operating system, so the cancellation stays a cancellation
(tests/drivers/mqtt/test_session.py; `core.stopping` is the reconnect loops' second guard).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiomqtt

from core import stopping

__all__ = ["GOODBYE_S", "connected"]

GOODBYE_S = 2.0
"""Seconds a clean disconnect may take; after that the connection is simply left."""


@asynccontextmanager
async def connected(
    client: aiomqtt.Client, *, goodbye: float = GOODBYE_S
) -> AsyncIterator[aiomqtt.Client]:
    """`async with client`, but leaving takes at most `goodbye` seconds; a stop that came as
    the broker accepted the connection is not lost (see `core.raise_if_stopping`)."""
    await client.__aenter__()
    if stopping():
        await _leave(client, None, goodbye)
        raise asyncio.CancelledError
    try:
        yield client
    except BaseException as error:
        await _leave(client, error, goodbye)
        raise
    await _leave(client, None, goodbye)


async def _leave(client: aiomqtt.Client, error: BaseException | None, goodbye: float) -> None:
    try:
        async with asyncio.timeout(goodbye):
            if error is None:
                await client.__aexit__(None, None, None)
            else:
                await client.__aexit__(type(error), error, error.__traceback__)
    except TimeoutError:
        pass  # the broker never said goodbye: the socket goes with the client
