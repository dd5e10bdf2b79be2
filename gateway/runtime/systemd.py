"""The gateway's side of systemd's service protocol (sd_notify(3)), spoken directly.

Under a `Type=notify` unit systemd passes a datagram socket in `NOTIFY_SOCKET`; the service
says `READY=1` once it has started (so `systemctl start` returns, and units ordered after it
start, only then), `WATCHDOG=1` at least every `WATCHDOG_USEC` / 2 while it is well (when the
pings stop systemd kills it and, with `Restart=on-failure`, starts it again), and
`STOPPING=1` on its way out. The pings come from a task on the gateway's own event loop and
only while the loop keeps time, so a gateway whose loop is stuck, which can no longer raise an
alarm, is restarted rather than left looking alive.

A datagram to a local socket is one non-blocking system call: it never waits on the loop. The
protocol is three lines of text; no library is needed for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Self

__all__ = ["ServiceManager"]

log = logging.getLogger(__name__)


class ServiceManager:
    """The notification socket of the service manager that started this process.

    `from_environment()` returns None when there is none (not under systemd, or a unit that
    is not `Type=notify`), so callers do nothing in that case.
    """

    def __init__(self, address: str, watchdog_every: float | None = None) -> None:
        self.address = address
        self.watchdog_every = watchdog_every
        """Seconds between watchdog pings (half of WATCHDOG_USEC), or None without a watchdog."""
        self.pings = 0
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.setblocking(False)
        # An address starting with "@" is in the abstract namespace (a leading NUL byte).
        self._target = "\0" + address[1:] if address.startswith("@") else address
        self._warned = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self | None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        if not address:
            return None
        return cls(address, _watchdog_every(environ))

    def notify(self, *lines: str) -> None:
        """Send `KEY=value` lines in one datagram; a manager that went away is logged once."""
        try:
            self._socket.sendto("\n".join(lines).encode(), self._target)
        except OSError as error:
            if not self._warned:
                self._warned = True
                log.warning("service manager %s: cannot notify it (%s)", self.address, error)

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def stopping(self) -> None:
        self.notify("STOPPING=1", "STATUS=stopping")

    async def keep_watchdog_fed(self, healthy: Callable[[], bool]) -> None:
        """Ping every `watchdog_every` seconds while `healthy()` says so; runs until cancelled.

        Without a watchdog configured it returns at once.
        """
        if self.watchdog_every is None:
            return
        unwell = False
        while True:
            if healthy():
                self.notify("WATCHDOG=1")
                self.pings += 1
                unwell = False
            elif not unwell:
                unwell = True
                log.error("the gateway is not well: the service manager's watchdog is not fed")
            await asyncio.sleep(self.watchdog_every)

    def close(self) -> None:
        self._socket.close()


def _watchdog_every(environ: Mapping[str, str]) -> float | None:
    """Half the watchdog interval, if the watchdog is meant for this process."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", "0"))
    except ValueError:
        return None
    pid = environ.get("WATCHDOG_PID")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 2e6
