"""Keep long-lived tasks running: a crash is logged, counted and restarted with backoff.

With `core.Boundary`, the only place that catches every error: whatever a task did not
expect ends here, is logged with its traceback, and the task starts again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from core.backoff import Backoff
from core.errors import FiregwError

__all__ = ["STABLE_RUN", "raise_if_stopping", "restarts", "stopping", "supervise"]

log = logging.getLogger(__name__)

STABLE_RUN = 60.0
"""Seconds a restarted task must run before a later crash counts as a first one again."""

restarts: Counter[str] = Counter()
"""Restarts per supervised task name, for the status report."""


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    *,
    first_delay: float = 0.5,
    max_delay: float = 30.0,
) -> None:
    """Run `run()` until it returns; restart it after any exception except cancellation.

    A `FiregwError` is logged as its message; anything else, a bug, with its traceback.

    The delay doubles after each crash, between half and one and a half times its value so
    that restarts of many tasks do not line up, and starts again from `first_delay` once the
    task has stayed up for `STABLE_RUN` seconds.
    """
    backoff = Backoff(first_delay, max_delay, spread=(0.5, 1.5))
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            await run()
        except Exception as error:
            if stopping():
                # Asked to stop, and the task turned the cancellation into another error (a
                # client library's "disconnected"): stop, never restart into a shutdown.
                raise asyncio.CancelledError from error
            _log_crash(name, error)
        else:
            return
        if loop.time() - started >= STABLE_RUN:
            backoff.reset()
        await asyncio.sleep(backoff.next_delay())


def stopping() -> bool:
    """Whether the current task has been asked to stop (a cancellation still pending).

    For a reconnect loop that catches a client library's errors: some turn a cancellation
    into "disconnected", and a loop that reconnects then would never let the gateway stop.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def raise_if_stopping() -> None:
    """Raise CancelledError if the current task has been asked to stop.

    For the line after awaiting a client library that waits with `asyncio.wait_for` (aiomqtt
    for a CONNACK, SUBACK or PUBACK; pymodbus for a connection): on Python 3.11 that returns
    the result and drops the cancellation when both come in the same turn of the event loop,
    and the task would go on as if it had never been asked: a SIGTERM that came as the
    gateway connected held up its stop until the connection happened to drop.
    """
    if stopping():
        raise asyncio.CancelledError


def _log_crash(name: str, error: Exception) -> None:
    restarts[name] += 1
    if isinstance(error, FiregwError):  # raised on purpose: its message says it all
        log.error("task %s stopped: %s (restart %d); restarting", name, error, restarts[name])
    else:
        log.error("task %s crashed (restart %d); restarting", name, restarts[name], exc_info=error)
