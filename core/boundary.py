"""Where one part's failure must stop: the edge between a producer and what it hands work to.

A driver hands readings to the hub, the hub to each of its subscribers, the alarm service
applies one person's command: a bug on the far side of such an edge must cost that one batch
or command, never the producer. `Boundary` is that edge, and with `core.supervise` the only
place that catches every error. `RateLimit` keeps the log from flooding meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from types import TracebackType

__all__ = ["Boundary", "RateLimit", "quiet_loop_errors"]


class RateLimit:
    """Log lines that must not flood: each key at most once every `every` seconds.

    `RateLimit(math.inf)` lets each key through once, ever.
    """

    __slots__ = ("_last", "every")

    def __init__(self, every: float) -> None:
        self.every = every
        self._last: dict[str, float] = {}

    def due(self, key: str) -> bool:
        """Whether a line for `key` may be written now (and, if so, that it was)."""
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and (math.isinf(self.every) or now - last < self.every):
            return False
        self._last[key] = now
        return True


class Boundary:
    """``with boundary:`` contains an error raised inside: counted, logged, and swallowed.

    The first failure is logged with its traceback, later ones at most once a minute with the
    count so far. Cancellation and other `BaseException`s pass through untouched.

    Args:
        log: the logger of the module that owns the edge.
        what: what failed, for the log line ("subscriber outbox", "MQTT sink").
        every: seconds between log lines while failures go on.
    """

    __slots__ = ("_limit", "failures", "log", "what")

    def __init__(self, log: logging.Logger, what: str, *, every: float = 60.0) -> None:
        self.log = log
        self.what = what
        self.failures = 0
        self._limit = RateLimit(every)

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if error is None or not isinstance(error, Exception):
            return False
        self.failures += 1
        if self._limit.due(self.what):
            self.log.error(
                "%s failed (%d so far; contained, logged at most once a minute)",
                self.what,
                self.failures,
                exc_info=error,
            )
        return True


def quiet_loop_errors(loop: asyncio.AbstractEventLoop, log: logging.Logger) -> None:
    """Let the event loop report what escapes a library's callbacks in one line, at most once
    a minute per kind, instead of a traceback every time.

    A Modbus gateway that sends a malformed frame makes pymodbus raise inside its protocol
    callback; asyncio then logs "Fatal error: protocol.data_received() call failed" with a
    traceback and drops the connection, on every reconnect. The connection's own health
    already says it is lost; this keeps the cause to one line (the traceback at debug level).
    """
    limit = RateLimit(60.0)

    def report(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        message = str(context.get("message") or "unexpected error in the event loop")
        error = context.get("exception")
        if limit.due(message):
            cause = f": {type(error).__name__}: {error}" if error is not None else ""
            log.warning("%s%s (logged at most once a minute)", message, cause)
        log.debug(
            "event loop: %s", message, exc_info=error if isinstance(error, BaseException) else None
        )

    loop.set_exception_handler(report)
