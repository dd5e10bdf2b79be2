"""A network cable a test can cut: a TCP relay between the gateway and a simulated panel."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Self


class Cable:
    """A TCP relay between the gateway and a simulated panel, that can be cut like a network
    link: while cut, bytes in both directions are dropped and new connections are accepted
    but never answered, as when a switch goes dark (no reset, no close reaches either side)."""

    def __init__(self, panel_port: int) -> None:
        self.panel_port = panel_port
        self.port = 0
        self.cut = False
        self._stack = AsyncExitStack()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        self._stack.push_async_callback(server.wait_closed)
        self._stack.callback(server.close)
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._stack.aclose()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            await self._pump(reader, None)  # swallowed: the panel is out of reach
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.panel_port)
        back = asyncio.create_task(self._pump(up_reader, writer))
        self._tasks.add(back)
        try:
            await self._pump(reader, up_writer)
        finally:
            back.cancel()
            self._tasks.discard(back)
            for end in (writer, up_writer):
                end.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None
    ) -> None:
        while data := await reader.read(4096):
            if writer is not None and not self.cut:
                writer.write(data)
        if writer is not None:
            writer.close()
