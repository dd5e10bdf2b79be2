"""An MQTT broker for the demo on a bare machine: Mosquitto if installed, else amqtt in-process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import socket
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)


LOWEST_PORT = 10_000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now, below the kernel's range of ephemeral ports.

    A port from that range (what binding port 0 gives) is handed to the next outgoing
    connection of any process, so between this probe and the demo's simulator listening on it
    another program can take it: it happened in CI ("cannot listen on 127.0.0.1:53841"). The
    kernel never hands out a port below the range by itself.
    """
    below = ephemeral_low()
    for _ in range(1000):
        port = random.randrange(LOWEST_PORT, below)
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:  # someone listens there, or holds it
                continue
            return port
    with socket.socket() as probe:  # a machine using every port below the range
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ephemeral_low() -> int:
    """The lowest port of the kernel's ephemeral range (ports below it are never handed out)."""
    try:
        low = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default
    return max(low, LOWEST_PORT + 1000)


def _has_amqtt() -> bool:
    try:
        import amqtt  # noqa: F401 (only asked whether it is installed)
    except ImportError:
        return False
    return True


class EmbeddedBroker:
    """A private broker on a free loopback port, stopped on exit."""

    def __init__(self, host: str = "127.0.0.1", *, use_mosquitto: bool = True) -> None:
        self.host = host
        self.use_mosquitto = use_mosquitto
        self.port = free_port(host)
        self.name = ""
        self._process: asyncio.subprocess.Process | None = None
        self._amqtt: Any = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    async def __aenter__(self) -> Self:
        mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
        if mosquitto and self.use_mosquitto:
            await self._start_mosquitto(mosquitto)
        elif _has_amqtt():
            await self._start_amqtt()
        else:
            raise RuntimeError(
                "the demo needs an MQTT broker: install Mosquitto (apt install mosquitto) "
                "or the demo extra (pip install 'firegw[demo]')"
            )
        await self._wait_until_listening()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
            await self._process.wait()
        if self._amqtt is not None:
            await self._amqtt.shutdown()
        if self._folder is not None:
            self._folder.cleanup()

    async def _start_mosquitto(self, binary: str) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="firegw-broker-")
        config = Path(self._folder.name) / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} {self.host}\nallow_anonymous true\n"
            "persistence false\nlog_dest none\n"
        )
        self._process = await asyncio.create_subprocess_exec(
            binary,
            "-c",
            str(config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            # Its own session: Ctrl-C on the terminal reaches the demo, which stops the gateway
            # first and then this broker, not the broker first under a running gateway.
            start_new_session=True,
        )
        self.name = "mosquitto"

    async def _start_amqtt(self) -> None:
        from amqtt.broker import Broker  # imported only when needed: it is slow to import

        # amqtt logs every client that connects and says nothing (the readiness probe below,
        # a scanner) as an error, across the demo's screen; the demo reports its own troubles.
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)

        self._amqtt = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
        )
        await self._amqtt.start()
        self.name = "amqtt (embedded)"

    async def _wait_until_listening(self) -> None:
        deadline = asyncio.get_running_loop().time() + 10.0
        while True:
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"the {self.name} broker did not start") from None
                await asyncio.sleep(0.05)
            else:
                writer.close()
                await writer.wait_closed()
                return
