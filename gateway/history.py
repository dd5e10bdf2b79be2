"""Sinks from the site config, and the trouble condition "history not reaching the database".

The condition is raised when the outbox holds more than `alarm_fill` of its cap, or when the
oldest line some sink still has to deliver is older than `alarm_age`; it clears when neither
holds. It is logged (a warning when raised, with the cause; info when cleared) and kept in
`HistoryHealth.trouble` for the gateway's status.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gateway.alarms.lines import MEASUREMENT as ALARM_MEASUREMENT
from gateway.config.models import OutboxSettings
from gateway.outbox import Outbox

__all__ = ["NEVER_DROP", "HistoryHealth"]

log = logging.getLogger(__name__)

NEVER_DROP = (ALARM_MEASUREMENT,)
"""Measurements the outbox's size cap never drops: alarm events."""

CHECK_INTERVAL = 10.0


class HistoryHealth:
    """Watches the outbox: is the history reaching every database?

    Attributes:
        trouble: why history is not reaching the database, or None while it is.
    """

    def __init__(
        self, settings: OutboxSettings, outbox: Outbox, *, interval: float = CHECK_INTERVAL
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.interval = interval
        self.trouble: str | None = None

    async def run(self) -> None:
        """Check every `interval` seconds until cancelled."""
        while True:
            await self.check()
            await asyncio.sleep(self.interval)

    async def check(self) -> str | None:
        """Evaluate the condition now, log a change, and return the trouble (None if fine)."""
        trouble = await self._cause()
        if trouble and not self.trouble:
            log.warning("trouble: history not reaching the database: %s", trouble)
        elif self.trouble and not trouble:
            log.info("history reaches the database again (was: %s)", self.trouble)
        self.trouble = trouble
        return trouble

    async def _cause(self) -> str | None:
        backlog = await self.outbox.backlog()
        cap = self.settings.max_rows
        if backlog >= self.settings.alarm_fill * cap:
            return f"outbox holds {backlog} of at most {cap} lines"
        now = time.time_ns()
        for sink in self.outbox.sinks:
            oldest = await self.outbox.reader(sink).oldest_observed_at()
            if oldest is not None and now - oldest > self.settings.alarm_age * 1e9:
                return f"sink {sink} is {(now - oldest) / 1e9:.0f} s behind"
        return None
