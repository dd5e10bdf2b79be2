"""Polling Modbus devices: one connection per endpoint, devices polled in merged cycles.

An endpoint (a fire panel's Modbus gateway, an I/O module, an RS-485 bus) is one connection
that many devices share, told apart by unit id (see `link`). Its devices are grouped by poll
interval; each group is polled in cycles from its own random phase, reading all its devices in
as few requests as possible (see `merge` and `cycle`). A device that fails is read on its own
and backs off, so it does not cost its neighbours a timeout on every round; the connection is
re-established with backoff when it drops. Nothing but cancellation ends a poll loop.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections import defaultdict
from collections.abc import Sequence

from core import ReadingSink, supervise
from drivers.modbus.cycle import Grid, PollGroup
from drivers.modbus.derive import with_derived
from drivers.modbus.link import CONNECTS_AT_ONCE, RECONNECT_INITIAL, EndpointStats, Link
from drivers.modbus.spec import ModbusDevice, ModbusEndpointSpec
from drivers.modbus.tcp import Timeouts

_RANDOM = random.Random()
"""The endpoints' phases and backoffs come from one generator unless a test gives its own
(a generator's state is 2.5 KB, and a site may have a thousand endpoints)."""


class EndpointPoller:
    """Polls every device of one endpoint over one connection, forever.

    Requests are serialised on the connection. Every poll of a device ends in one call of the
    sink with a reading for each point of its profile: good values with one `observed_at`, or,
    if the device could not be read, bad readings whose quality says why (EXCEPTION, TIMEOUT,
    DISCONNECTED). Failures are logged once per device and kind, recovery is logged too.
    """

    __slots__ = ("_link", "groups", "spec", "stats")

    def __init__(
        self,
        spec: ModbusEndpointSpec,
        *,
        rng: random.Random | None = None,
        pace: asyncio.Semaphore | None = None,
        timeouts: Timeouts | None = None,
        grid: Grid | None = None,
    ) -> None:
        self.spec = spec
        self.stats = EndpointStats()
        rng, grid = rng or _RANDOM, grid or Grid()
        by_interval: dict[float, list[ModbusDevice]] = defaultdict(list)
        for device in spec.devices:
            by_interval[device.poll_interval].append(device)
        self._link = Link(spec, self.stats, rng, pace, timeouts, one_reader=len(by_interval) < 2)
        self.groups = tuple(
            PollGroup(interval, devices, self._link, rng=rng, grid=grid)
            for interval, devices in sorted(by_interval.items())
        )

    @property
    def connected(self) -> bool:
        """Whether the endpoint's connection is up right now."""
        return self._link.connected

    @property
    def queued(self) -> bool:
        """Whether the endpoint's first connection attempt still waits for its turn."""
        return self._link.queued

    def answering(self, within: float) -> bool:
        """Whether the connection is up and some unit answered within the last `within` s."""
        last = self._link.last_answer
        return self.connected and last is not None and time.monotonic() - last < within

    @property
    def last_answer(self) -> float | None:
        """Monotonic time of the latest answer from any unit, while connected (else None)."""
        return self._link.last_answer if self.connected else None

    async def run(self, sink: ReadingSink) -> None:
        """Poll until cancelled, delivering each device's readings (its derived points after
        them) to `sink`; closes the connection on exit."""
        deliver = with_derived(sink, self.spec.devices)
        self._link.start()
        try:
            if len(self.groups) == 1:  # the common case: no task but this one
                await self.groups[0].run(deliver)
            elif self.groups:
                async with asyncio.TaskGroup() as tasks:
                    for group in self.groups:
                        name = f"poll {self.spec.id} every {group.interval:g} s"
                        tasks.create_task(group.run(deliver), name=name)
            else:  # no devices: the connection is kept up all the same
                await asyncio.get_running_loop().create_future()
        finally:
            await self._link.stop()


class ModbusDriver:
    """All Modbus endpoints of a site, each polled by its own `EndpointPoller`.

    Their connection attempts take turns, at most `connects_at_once` at a time (see
    `CONNECTS_AT_ONCE`); polling on connections that are up never waits for them.
    """

    def __init__(
        self, endpoints: Sequence[ModbusEndpointSpec], *, connects_at_once: int = CONNECTS_AT_ONCE
    ) -> None:
        seen: set[str] = set()
        for spec in endpoints:
            if spec.id in seen:
                raise ValueError(f"modbus endpoint {spec.id!r} is listed twice")
            seen.add(spec.id)
        pace, timeouts, grid = asyncio.Semaphore(connects_at_once), Timeouts(), Grid()
        self.pollers = tuple(
            EndpointPoller(spec, pace=pace, timeouts=timeouts, grid=grid) for spec in endpoints
        )
        self._by_id = {poller.spec.id: poller for poller in self.pollers}
        self._queued = list(self.pollers)

    def answering(self, endpoint: str, within: float) -> bool:
        """Whether `endpoint` is connected and answered within the last `within` seconds."""
        poller = self._by_id.get(endpoint)
        return poller is not None and poller.answering(within)

    def last_answer(self, endpoint: str) -> float | None:
        """Monotonic time `endpoint` last answered, while it is connected (else None)."""
        poller = self._by_id.get(endpoint)
        return None if poller is None else poller.last_answer

    def queued(self) -> int:
        """How many endpoints' first connection attempts still wait for their turn: at a start
        that is the gateway's own time, not their devices' failure (see `CONNECTS_AT_ONCE`)."""
        if self._queued:  # a first attempt is made once: when all had theirs, nothing to scan
            self._queued = [poller for poller in self._queued if poller.queued]
        return len(self._queued)

    @property
    def stats(self) -> dict[str, EndpointStats]:
        """Each endpoint's counters, by endpoint id."""
        return {poller.spec.id: poller.stats for poller in self.pollers}

    async def run(self, sink: ReadingSink) -> None:
        """Poll every endpoint concurrently until cancelled (with no endpoints: just wait)."""
        async with asyncio.TaskGroup() as tasks:
            for poller in self.pollers:
                name = f"modbus {poller.spec.id}"
                run = functools.partial(poller.run, sink)
                tasks.create_task(supervise(name, run, first_delay=RECONNECT_INITIAL), name=name)
            if not self.pollers:
                await asyncio.Event().wait()
