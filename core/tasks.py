"""Keep long-lived tasks running: a crash is logged, counted and restarted with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

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

    The delay doubles after each crash (with jitter, so restarts of many tasks do not line up)
    and resets once the task has stayed up for a minute.
    """
    delay = first_delay
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            await run()
        except Exception:
            restarts[name] += 1
            log.exception("task %s crashed (restart %d); restarting", name, restarts[name])
        else:
            return
        if loop.time() - started > 60:
            delay = first_delay
        await asyncio.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, max_delay)
