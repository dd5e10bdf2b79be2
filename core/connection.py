"""Whether one connection works, and the few log lines that say so.

Every connection of the gateway (a panel's Modbus link, the broker the cameras publish to, the
alarm feed's broker, each database, the alarm store) fails the same way in the field: it goes
away for a while and comes back. An operator wants three lines from that, not one per retry:
the first failure, with what the gateway does meanwhile; nothing while the outage lasts (the
retries log at debug level); and the recovery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

__all__ = ["ConnectionCounters", "ConnectionHealth", "Counters"]


class ConnectionCounters(Protocol):
    """The counters a connection keeps for the status page (a driver's or the feed's stats)."""

    connects: int
    reconnects: int
    connect_failures: int


@dataclass
class Counters:
    """Counters for a connection whose owner keeps none of its own."""

    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0


class ConnectionHealth:
    """One connection's state, its counters, and its log lines.

    Call `connected` when a connection is made, `recovered` when an operation works again
    (for what has no connection of its own, such as an HTTP sink), `failed` when an attempt
    fails, and `lost` when a connection that was up drops. The first failure of an outage is
    logged at `level` with `retrying` (what happens meanwhile); later ones at debug level; the
    recovery at info level.

    Args:
        log: the logger of the module that owns the connection, so its lines carry its name.
        name: how the lines name the connection ("endpoint opd-panel", "alarm feed").
        retrying: what the gateway does while it is down ("retrying with backoff up to 30 s").
        counters: where to count connections, reconnections and failed connects.
        level: the level of the first failure's line.
    """

    __slots__ = (
        "_outage_logged",
        "counters",
        "failures",
        "last_error",
        "level",
        "log",
        "name",
        "retrying",
        "up",
    )

    def __init__(
        self,
        log: logging.Logger,
        name: str,
        *,
        retrying: str,
        counters: ConnectionCounters | None = None,
        level: int = logging.WARNING,
    ) -> None:
        self.log = log
        self.name = name
        self.retrying = retrying
        self.counters: ConnectionCounters = counters if counters is not None else Counters()
        self.level = level
        self.up = False
        self.failures = 0
        """Failed attempts since it last worked."""
        self.last_error: str | None = None
        self._outage_logged = False

    def connected(self, where: str, detail: str = "") -> None:
        """A connection was made: "<name>: connected to <where>[ again][, <detail>]"."""
        counters = self.counters
        counters.connects += 1
        again = counters.connects > 1
        counters.reconnects += again
        self.log.info(
            "%s: connected to %s%s%s",
            self.name,
            where,
            " again" * again,
            f", {detail}" if detail else "",
        )
        self._works()

    def recovered(self, what: str) -> None:
        """It works again: "<name>: <what> after N failed attempts", if any had failed."""
        if self.failures:
            self.log.info("%s: %s after %d failed attempts", self.name, what, self.failures)
        self._works()

    def failed(self, reason: str) -> None:
        """An attempt failed, or a connection that was up failed: say so once per outage."""
        if not self.up:
            self.counters.connect_failures += 1
        self.up = False
        self.failures += 1
        self.last_error = reason
        if self._outage_logged:
            self.log.debug("%s: attempt %d failed: %s", self.name, self.failures, reason)
            return
        self._outage_logged = True
        self.log.log(self.level, "%s: %s; %s", self.name, reason, self.retrying)

    def lost(self, reason: str) -> None:
        """A connection that was up dropped: "<name>: <reason>", then quiet until it is back."""
        self.up = False
        self.last_error = reason
        self._outage_logged = True
        self.log.warning("%s: %s", self.name, reason)

    def closed(self) -> None:
        """The owner closed the connection on purpose (shutting down, restarting): down, and
        nothing to log."""
        self.up = False

    def _works(self) -> None:
        self.up = True
        self.failures = 0
        self.last_error = None
        self._outage_logged = False
