"""The monitoring centre of the uplink's tests: pysiaalarm's SIA DC-09 receiver (from PyPI, not
ours) in a process of its own, so that an outage is a real one (the process killed, every
connection gone), writing each event it accepts as a JSON line.

    python -m tests.gateway.uplink.centre --port N [--udp] [--key K]
        [--tls-cert FILE --tls-key FILE] --out FILE ACCOUNT...

`Centre` runs it from a test: `start()`, `kill()`, `events()`; the events carry what the
receiver parsed (code, zone, point, Contact ID fields, sequence number, extended data) and
`received_at`, this machine's wall-clock time of arrival.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import ssl
import sys
import time
from pathlib import Path
from typing import Any

from tests.servers import free_port
from tests.sites import eventually


def _event_line(event: Any) -> str:
    return json.dumps(
        {
            "account": event.account,
            "code": event.code,
            "ri": event.ri,
            "message": event.message,
            "sequence": event.sequence,
            "event_qualifier": event.event_qualifier,
            "event_type": event.event_type,
            "partition": event.partition,
            "x_data": event.x_data,
            "encrypted": event.encrypted,
            "message_type": str(event.message_type.value)
            if event.message_type is not None
            else None,
            "received_at": time.time(),
        }
    )


def _datagrams_on_python_3_11() -> None:
    """pysiaalarm's UDP server asserts that its transport is an `asyncio.DatagramTransport`,
    which CPython 3.11's selector transport is not by its class (fixed in 3.12): it would
    never answer. Let it take the transport it is given; nothing else of it changes."""
    from pysiaalarm.aio.server import SIAServerUDP

    def connection_made(self: Any, transport: Any) -> None:
        self.transport = transport

    SIAServerUDP.connection_made = connection_made  # type: ignore[method-assign]


async def _serve(args: argparse.Namespace) -> None:
    from pysiaalarm import CommunicationsProtocol, SIAAccount
    from pysiaalarm.aio import SIAClient

    if args.udp and sys.version_info < (3, 12):
        _datagrams_on_python_3_11()

    out = Path(args.out).open("a", encoding="utf-8")  # noqa: ASYNC230, SIM115

    async def accepted(event: Any) -> None:
        out.write(_event_line(event) + "\n")
        out.flush()

    accounts = [SIAAccount(account, args.key) for account in args.accounts]
    protocol = CommunicationsProtocol.UDP if args.udp else CommunicationsProtocol.TCP
    client = SIAClient("127.0.0.1", args.port, accounts, accepted, protocol=protocol)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    options = {}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        options["ssl"] = context
    await client.async_start(**options)
    print("ready", flush=True)
    await stop.wait()
    await client.async_stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--udp", action="store_true")
    parser.add_argument("--key")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--out", required=True)
    parser.add_argument("accounts", nargs="+")
    asyncio.run(_serve(parser.parse_args()))


class Centre:
    """pysiaalarm as a process: the receiver a test's uplink sends to."""

    def __init__(
        self,
        folder: Path,
        *,
        accounts: tuple[str, ...] = ("1234",),
        key: str | None = None,
        udp: bool = False,
        port: int | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.accounts, self.key, self.udp, self.tls = accounts, key, udp, tls
        self.port = port or free_port()
        self.out = folder / f"centre-{self.port}.jsonl"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        command = [sys.executable, "-m", "tests.gateway.uplink.centre", "--port", str(self.port)]
        command += ["--out", str(self.out), *(["--udp"] if self.udp else [])]
        if self.tls is not None:
            command += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        command += [*(["--key", self.key] if self.key else []), *self.accounts]
        self.process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[3]
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        assert line.strip() == b"ready", f"the receiver did not start: {line!r}"

    async def kill(self) -> None:
        """An outage: the receiver gone at once, with its connections."""
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()

    def events(self) -> list[dict[str, Any]]:
        """Every event the receiver accepted (and acknowledged), in order of arrival."""
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line]

    def alarms(self) -> list[dict[str, Any]]:
        """The events that are not link tests."""
        return [event for event in self.events() if event["message_type"] != "NULL"]

    async def received(self, count: int, *, within: float = 30.0, what: str = "") -> None:
        await eventually(
            lambda: len(self.alarms()) >= count,
            within=within,
            what=what or f"{count} events at the receiver",
        )

    async def __aenter__(self) -> Centre:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            await self.stop()


if __name__ == "__main__":
    main()
