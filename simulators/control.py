"""Driving the simulators while they run: JSON lines over TCP, for tests, demos and people.

One request per line, one reply per line:

    {"fault": "fire", "device": "OPD-SD-001"}                 -> {"ok": true}
    {"fault": "pressure_drop", "device": "OPD-HP-01", "to": 0.05, "rate": 0.5}
    {"get": "OPD-SD-001"}                                      -> {"ok": true, "state": {...}}
    anything wrong                          -> {"ok": false, "error": "unknown device 'X'"}

`nc 127.0.0.1 PORT` is enough to drive it by hand; `ControlClient` and `request_once` are the
async and the one-shot sync clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from types import TracebackType
from typing import Any, Protocol, Self

from simulators.faults import FaultError

logger = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
Reply = dict[str, Any]


class Controllable(Protocol):
    """What the control server drives: a simulated site."""

    async def apply(self, fault: str, device: str, **args: Any) -> None:
        """Apply a fault; raises `FaultError` saying why it cannot."""

    def state(self, device: str) -> dict[str, Any]:
        """A device's current state as JSON-ready data; raises `FaultError` if unknown."""


class ControlError(Exception):
    """The control server refused a request; `error` is its reason."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)


async def handle_request(target: Controllable, line: bytes) -> Reply:
    """One request line in, one reply out; never raises for a bad request."""
    try:
        request = json.loads(line)
    except ValueError as error:
        return {"ok": False, "error": f"not JSON: {error}"}
    try:
        return await _dispatch(target, request)
    except FaultError as error:
        return {"ok": False, "error": str(error)}


async def _dispatch(target: Controllable, request: Any) -> Reply:
    if isinstance(request, dict) and isinstance(request.get("get"), str) and len(request) == 1:
        return {"ok": True, "state": target.state(request["get"])}
    if isinstance(request, dict) and {"fault", "device"} <= request.keys():
        args = {k: v for k, v in request.items() if k not in ("fault", "device")}
        if not isinstance(request["fault"], str) or not isinstance(request["device"], str):
            return {"ok": False, "error": "fault and device must be strings"}
        await target.apply(request["fault"], request["device"], **args)
        return {"ok": True}
    return {"ok": False, "error": 'expected {"fault": F, "device": D, ...} or {"get": D}'}


class ControlServer:
    """The JSON-lines server, listening while the context is open; port 0 picks a free one."""

    def __init__(self, target: Controllable, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target, self.host, self.requested_port = target, host, port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        """The port actually listened on."""
        if self._server is None:
            raise RuntimeError("the control server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.requested_port, limit=MAX_LINE
        )
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._clients:
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while line := await reader.readline():
                reply = await handle_request(self.target, line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError) as error:  # ValueError: a line over MAX_LINE
            logger.debug("control connection dropped: %s", error)
        finally:
            self._clients.discard(writer)
            writer.close()


class ControlClient:
    """Async client: one short connection per request, so it survives simulator restarts."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, timeout: float = 5.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    async def send(self, fault: str, device: str, **args: Any) -> Reply:
        """Apply a fault; returns the reply, `{"ok": true}` or `{"ok": false, "error": ...}`."""
        return await self.request({"fault": fault, "device": device, **args})

    async def state(self, device: str) -> dict[str, Any]:
        """A device's current state; raises `ControlError` if the server refuses."""
        reply = await self.request({"get": device})
        if not reply.get("ok"):
            raise ControlError(str(reply.get("error")))
        return dict(reply["state"])

    async def request(self, request: dict[str, Any]) -> Reply:
        """Send one raw request and return the raw reply."""
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(json.dumps(request).encode() + b"\n")
                await writer.drain()
                return dict(json.loads(await reader.readline()))
            finally:
                writer.close()
                await writer.wait_closed()


def request_once(
    port: int, request: dict[str, Any], host: str = "127.0.0.1", timeout: float = 5.0
) -> Reply:
    """Blocking one-shot request, for the CLI: connect, send one line, read one line."""
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(json.dumps(request).encode() + b"\n")
        with connection.makefile("rb") as stream:
            return dict(json.loads(stream.readline()))
