"""systemd's notification protocol against a real datagram socket, as systemd would listen.

`tests/firegw/test_service.py` runs `firegw run` under such a socket; these tests pin the
watchdog's one promise: it is fed from the event loop, and only while the gateway is well, so
a stuck loop goes unfed and systemd restarts the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.runtime import ServiceManager


class Listener:
    """A bound AF_UNIX datagram socket, read by a thread (so it hears while the loop is stuck);
    `received` holds (monotonic time, datagram text)."""

    def __init__(self, address: str) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind("\0" + address[1:] if address.startswith("@") else address)
        self.socket.settimeout(0.1)
        self.received: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                self.received.append((time.monotonic(), self.socket.recv(4096).decode()))

    def pings(self) -> list[float]:
        return [at for at, text in self.received if text == "WATCHDOG=1"]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    listening = Listener(str(tmp_path / "notify"))
    yield listening
    listening.close()


async def test_ready_and_stopping_arrive_as_datagrams(listener: Listener, tmp_path: Path) -> None:
    manager = ServiceManager(str(tmp_path / "notify"))
    manager.ready("running: 11 devices")
    manager.stopping()
    await asyncio.to_thread(time.sleep, 0.3)
    assert [text for _, text in listener.received] == [
        "READY=1\nSTATUS=running: 11 devices",
        "STOPPING=1\nSTATUS=stopping",
    ]
    manager.close()


async def test_an_abstract_socket_address_works(tmp_path: Path) -> None:
    address = f"@firegw-test-{os.getpid()}-{time.monotonic_ns()}"
    listening = Listener(address)
    try:
        ServiceManager(address).ready("up")
        await asyncio.to_thread(time.sleep, 0.3)
        assert [text for _, text in listening.received] == ["READY=1\nSTATUS=up"]
    finally:
        listening.close()


async def test_the_watchdog_goes_unfed_while_the_loop_is_stuck(
    listener: Listener, tmp_path: Path
) -> None:
    manager = ServiceManager(str(tmp_path / "notify"), watchdog_every=0.1)
    feeding = asyncio.create_task(manager.keep_watchdog_fed(lambda: True))
    try:
        await asyncio.sleep(1.0)
        time.sleep(2.0)  # noqa: ASYNC251 - the point: the loop stuck in a blocking call
        await asyncio.sleep(1.0)
    finally:
        feeding.cancel()
    pings = listener.pings()
    gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
    assert max(gaps) >= 1.9  # past a 1 s WatchdogSec: systemd would have restarted it
    assert sum(gap >= 1.9 for gap in gaps) == 1
    assert len(pings) >= 10  # and fed every 0.1 s before and after


async def test_the_watchdog_is_fed_only_while_the_gateway_is_well(
    listener: Listener, tmp_path: Path
) -> None:
    well = False
    manager = ServiceManager(str(tmp_path / "notify"), watchdog_every=0.05)
    feeding = asyncio.create_task(manager.keep_watchdog_fed(lambda: well))
    try:
        await asyncio.sleep(1.0)
        assert listener.pings() == []
        well = True
        await asyncio.sleep(1.0)
    finally:
        feeding.cancel()
    assert len(listener.pings()) >= 5


@pytest.mark.parametrize(
    ("environment", "every"),
    [
        ({"NOTIFY_SOCKET": "/run/notify", "WATCHDOG_USEC": "20000000"}, 10.0),
        ({"NOTIFY_SOCKET": "/run/notify"}, None),
        ({"NOTIFY_SOCKET": "/run/notify", "WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, None),
        (
            {
                "NOTIFY_SOCKET": "/run/notify",
                "WATCHDOG_USEC": "20000000",
                "WATCHDOG_PID": str(os.getpid()),
            },
            10.0,
        ),
    ],
    ids=["watchdog", "no watchdog", "another process's watchdog", "this process's watchdog"],
)
def test_the_environment_says_whether_and_how_often(
    environment: dict[str, str], every: float | None
) -> None:
    manager = ServiceManager.from_environment(environment)
    assert manager is not None
    assert manager.watchdog_every == every
    manager.close()


def test_without_a_notify_socket_there_is_no_manager() -> None:
    assert ServiceManager.from_environment({"WATCHDOG_USEC": "20000000"}) is None
