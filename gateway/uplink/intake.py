"""Taking alarm events from the durable alarm store into the uplink's queue.

The alarm store numbers every event it keeps; the queue remembers the last one taken (its
mark). Each time events reach the disk (`AlarmStore.on_written`), and every few seconds in
any case, the events after the mark are read, decided on (gateway/uplink/reporting.py) and
queued, in one transaction of the queue. An event not yet on disk is not sent: what the
centre is told is always what the gateway keeps.

- A fresh queue (the first start with an uplink, or its file lost) starts at the newest event
  and queues what a centre that knows nothing must hear of the alarms there are now (a fire
  in progress), not the whole history.
- An alarm store that was replaced (damaged, deleted: its events are numbered afresh) is
  noticed by the mark's event not being what the mark says; the uplink then takes the new
  file's events from its first, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from core import RateLimit
from gateway.alarms import AlarmStore
from gateway.sqlitefile import STORAGE_ERRORS
from gateway.uplink.queue import Mark, UplinkQueue
from gateway.uplink.reporting import Reporter

__all__ = ["Intake"]

log = logging.getLogger(__name__)

BATCH = 500
"""Events read from the alarm store at a time."""
LOOK_EVERY = 5.0
"""Seconds between looks at the alarm store when it says nothing (a replaced file, a queue
replaced and waiting to begin)."""


class Intake:
    """Moves events from the alarm store into the uplink queue; see the module.

    `on_queued` is called (it must not block) whenever messages were queued.
    """

    def __init__(
        self,
        store: AlarmStore,
        queue: UplinkQueue,
        reporter: Reporter,
        on_queued: Callable[[], None],
    ) -> None:
        self.store = store
        self.queue = queue
        self.reporter = reporter
        self.on_queued = on_queued
        self.taken = 0
        """Events taken this run."""
        self._written = asyncio.Event()
        self._checked: tuple[int, int] | None = None
        self._failing = RateLimit(60.0)
        store.on_written(self._written.set)

    async def run(self) -> None:
        """Take events as they are stored, until cancelled. A queue file that cannot be
        written (a full or failing disk) is tried again at the next look; the events wait
        in the alarm store meanwhile."""
        while True:
            self._written.clear()
            try:
                await self.catch_up()
            except STORAGE_ERRORS as error:
                if self._failing.due("take"):
                    log.error(
                        "uplink: cannot write the uplink queue %s (%s); the events wait in the "
                        "alarm store and are taken as soon as it works",
                        self.queue.path,
                        error,
                    )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LOOK_EVERY):
                    await self._written.wait()

    async def catch_up(self) -> None:
        """Take every stored event after the mark now."""
        if not self.queue.started:
            await self._begin()
        mark = await self._checked_mark()
        while True:
            events = await self.store.events_after(mark.seq, BATCH)
            if not events:
                return
            if await self.queue.take(events, self.reporter.decide):
                self.on_queued()
            self.taken += len(events)
            mark = Mark.of(*events[-1])

    async def _begin(self) -> None:
        """A fresh queue: the newest event is the mark, the alarms of now are sent."""
        last = await self.store.last_seq()
        found = await self.store.events_after(last - 1, 1) if last else []
        mark = Mark.of(*found[0]) if found else Mark(0)
        snapshot = [
            told for alarm in await self.store.load() for told in self.reporter.snapshot(alarm)
        ]
        await self.queue.begin(mark, snapshot)
        self._checked = (self.store.generation, self.queue.generation)
        log.info(
            "uplink: a new queue %s, starting after event %d of the alarm store; %d messages "
            "for the alarms there are now",
            self.queue.path,
            mark.seq,
            len(snapshot),
        )
        if snapshot:
            self.on_queued()

    async def _checked_mark(self) -> Mark:
        """The mark, once checked against this alarm store file (after a start, and after the
        store's or the queue's file was replaced)."""
        mark = await self.queue.mark()
        files = (self.store.generation, self.queue.generation)
        if self._checked == files or mark.seq == 0:
            self._checked = files
            return mark
        found = await self.store.events_after(mark.seq - 1, 1)
        self._checked = files
        if found and (found[0][0] > mark.seq or mark.is_of(*found[0])):
            return mark  # the same file (its older events may have been pruned)
        log.warning(
            "uplink: the alarm store %s does not hold event %d the uplink took last: it was "
            "replaced, and numbers its events afresh; taking its events from the first",
            self.store.path,
            mark.seq,
        )
        fresh = Mark(0)
        await self.queue.restart_at(fresh)
        return fresh
