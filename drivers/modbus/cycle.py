"""One poll cycle of the devices of an endpoint that share a poll interval.

Every cycle reads the due devices in merged requests (see `merge`). A merged request that
fails with a Modbus exception or a timeout is read again device by device in the same cycle,
so only the device at fault gets bad readings; that device is then remembered as suspect and
read on its own, after its healthy neighbours and with its own backoff, until it answers
again. Each device's readings go to the sink as soon as its last request is answered.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from core import Backoff, Boundary, Quality, Reading, ReadingSink, now_ns, raise_if_stopping
from drivers.modbus.decode import decode_point
from drivers.modbus.link import Link, PollFailure
from drivers.modbus.merge import PointRead, Request, plan_requests
from drivers.modbus.profile import RegisterPoint
from drivers.modbus.spec import ModbusDevice

log = logging.getLogger(__name__)

DEVICE_BACKOFF_CAP = 30.0
MAX_PHASE = 1.0
TICK = 0.1
"""Cycles start on a grid of the monotonic clock, a tick every tenth of a second, each group
on a tick of its own chosen at random within the first second: the groups that share a tick
are woken together, in one turn of the event loop, instead of each on its own. With one small
I/O module per device that is most of what a poll costs besides the socket (a bare loop of
pymodbus reads over the reference site laid out that way spends 0.16 ms of CPU per request on
a shared grid against 0.46 ms from random phases, and 0.12 against 0.19 ms at 10x, see
docs/many-endpoints.md). The grid is each gateway's own clock, so gateways still drift apart
from each other."""
SILENT_SHARE = 10.0
"""A silent device is asked again no sooner than this many timeouts later, so that it costs
its neighbours on the line at most about a tenth of the line's time."""
SPLIT_BY = frozenset({Quality.EXCEPTION, Quality.TIMEOUT})
_NOBODY: frozenset[str] = frozenset()


class Grid:
    """The grid's wake-ups, shared: the groups due at one tick wait on one timer.

    A sleep per group and cycle was a coroutine, a future and a timer in the event loop's
    heap each (1,550 of them a second at ten times the reference site laid out one endpoint
    per device); now it is a future on the list of its tick, and one timer per tick wakes
    them all. One grid per driver; any number of groups and endpoints share it.
    """

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}

    def at(self, tick: int) -> asyncio.Future[None]:
        """A future done at tick number `tick` (`tick * TICK` on the loop's clock, at once
        if that is past): awaiting it sleeps until then. Cancelling it, as a cancelled
        waiter does, leaves the others waiting for that tick alone."""
        loop = asyncio.get_running_loop()
        waiting = self._waiting.get(tick)
        if waiting is None:
            waiting = self._waiting[tick] = []
            loop.call_at(tick * TICK, self._wake, tick)
        future: asyncio.Future[None] = loop.create_future()
        waiting.append(future)
        return future

    def _wake(self, tick: int) -> None:
        for future in self._waiting.pop(tick, ()):
            if not future.done():
                future.set_result(None)


@dataclass(slots=True)
class _Health:
    """What the group remembers about one device between cycles."""

    backoff: Backoff
    suspect: bool = False
    due: float = 0.0


@dataclass
class _Poll:
    """One device's poll within a cycle: the requests still out, the raw values so far."""

    device: ModbusDevice
    waiting: int
    raw: dict[str, Sequence[int]] = field(default_factory=dict)
    failure: PollFailure | None = None


class PollGroup:
    """The devices of one endpoint with one poll interval, polled together in cycles.

    Every poll of a device ends in one call of the sink with a reading for each point of its
    profile: good values with one `observed_at`, or bad readings whose quality says why.
    Failures are logged once per device and kind; recovery is logged too.
    """

    __slots__ = (
        "_all_answering",
        "_alone",
        "_delivery",
        "_gap",
        "_grid",
        "_health",
        "_link",
        "_logged",
        "_plan_key",
        "_planned",
        "_rng",
        "_stats",
        "_suspects",
        "devices",
        "interval",
    )

    def __init__(
        self,
        interval: float,
        devices: Sequence[ModbusDevice],
        link: Link,
        *,
        rng: random.Random,
        grid: Grid,
    ) -> None:
        self.interval = interval
        self.devices = tuple(devices)
        self._link, self._stats, self._rng, self._grid = link, link.stats, rng, grid
        self._gap = link.spec.merge_gap
        initial = min(2 * interval, DEVICE_BACKOFF_CAP)
        cap = max(initial, DEVICE_BACKOFF_CAP)
        self._health = {d.id: _Health(Backoff(initial, cap, rng=rng)) for d in devices}
        self._alone: frozenset[str] = _NOBODY
        self._plan_key: tuple[object, ...] = ()
        self._planned: tuple[Request, ...] = ()
        self._all_answering: tuple[Request, ...] | None = None
        self._suspects = 0
        """Devices suspect or backing off: while there are none, the plan is that of all (a
        count and a shared empty frozenset, not two sets per group: 0.65 MB at 10x the
        reference site laid out one endpoint per device)."""
        self._logged: dict[str, Quality] = {}
        self._delivery = Boundary(log, f"modbus group every {interval:g} s: delivering readings")

    async def run(self, sink: ReadingSink) -> None:
        """Poll in cycles from a random phase, on the monotonic clock, until cancelled.

        Due times advance by whole intervals, so time spent polling never shifts the schedule;
        cycles missed while the line was busy are skipped, not queued.
        """
        await self._link.ready()
        loop = asyncio.get_running_loop()
        due = self._first_due(loop.time())
        while True:
            if self.interval < TICK:  # faster than the grid: a sleep of its own
                await asyncio.sleep(max(0.0, due - loop.time()))
            else:  # its tick, shared with the other groups due then
                await self._grid.at(_tick_at_or_after(due))
            await self.cycle(sink)
            raise_if_stopping()  # a stop that came with the last answer (see core)
            due += self.interval
            if due < loop.time():
                due += math.ceil((loop.time() - due) / self.interval) * self.interval

    def _first_due(self, now: float) -> float:
        """The first cycle: a random tick within the first second (or interval), or, for an
        interval shorter than a tick, a random moment within it."""
        phase = min(self.interval, MAX_PHASE)
        if self.interval < TICK:
            return now + self._rng.uniform(0.0, phase)
        tick = _tick_at_or_after(now) + self._rng.randrange(max(1, round(phase / TICK)))
        return tick * TICK

    async def cycle(self, sink: ReadingSink) -> None:
        """Read every due device once and deliver its readings."""
        self._stats.cycles += 1
        if self._suspects or self._alone:
            now = asyncio.get_running_loop().time()
            due: Sequence[ModbusDevice] = [d for d in self.devices if self._health[d.id].due <= now]
            requests = self._plan(due)
        else:  # every device answering, none read alone: the plan of them all, made once
            due = self.devices
            if self._all_answering is None:
                self._all_answering = tuple(plan_requests(self.devices, self._gap))
            requests = self._all_answering
        polls = {d.id: _Poll(d, 0) for d in due}
        for request in requests:
            for device in request.devices:
                polls[device.id].waiting += 1
        for request in requests:
            await self._read(request, polls, sink)

    def _plan(self, due: Sequence[ModbusDevice]) -> tuple[Request, ...]:
        """The requests that read `due`. Planning from scratch was a sixth of the gateway's CPU
        at 10x the reference site, and the plan changes only when a device is suspect, backs
        off or recovers, so the last plan is kept for as long as those stay the same."""
        key = (
            tuple(d.id for d in due),
            tuple(d.id for d in self._faulty()),
            self._alone,
        )
        if key != self._plan_key:
            merged = [d for d in due if not self._read_alone(d)]
            alone = [d for d in due if self._read_alone(d)]
            requests = plan_requests(merged, self._gap, avoid=self._faulty())
            requests += [r for d in alone for r in plan_requests([d], self._gap)]
            self._plan_key, self._planned = key, tuple(requests)
        return self._planned

    def _faulty(self) -> list[ModbusDevice]:
        """Devices a merged read must go around: those suspect now, due or backing off."""
        return [d for d in self.devices if self._health[d.id].suspect]

    def _read_alone(self, device: ModbusDevice) -> bool:
        return device.id in self._alone or self._health[device.id].suspect

    async def _read(self, request: Request, polls: dict[str, _Poll], sink: ReadingSink) -> None:
        """One request, split device by device if it fails for a reason one device may cause."""
        try:
            values = await self._link.read(request)
        except PollFailure as failure:
            if failure.quality in SPLIT_BY and not failure.gateways and len(request.devices) > 1:
                await self._split(request, polls, failure)
            else:
                for read in request.reads:
                    polls[read.device.id].failure = failure
        else:
            for read in request.reads:
                polls[read.device.id].raw[read.point.name] = request.values_of(read, values)
            self._note_round_trip(request.devices)
        for device in request.devices:
            poll = polls[device.id]
            poll.waiting -= 1
            if poll.waiting == 0:
                await self._deliver(poll, sink)

    async def _split(self, request: Request, polls: dict[str, _Poll], why: PollFailure) -> None:
        """Read a failed merged request again device by device. If each device answers on its
        own after an exception, the merge itself is at fault (a gateway rejecting a read across
        unmapped registers), so they are never merged again; after a timeout it was a lost
        frame, and merging goes on."""
        failed = False
        for device in request.devices:
            reads = [r for r in request.reads if r.device.id == device.id]
            for part in plan_requests([device], self._gap):
                own = [r for r in part.reads if r in reads]
                if own:
                    failed |= not await self._read_part(part, own, polls[device.id])
        if not failed and why.quality is Quality.EXCEPTION:
            log.warning(
                "modbus: a read of %s fails though each device answers alone; "
                "reading them separately",
                ", ".join(d.id for d in request.devices),
            )
            self._alone = self._alone.union(d.id for d in request.devices)

    async def _read_part(self, part: Request, reads: list[PointRead], poll: _Poll) -> bool:
        try:
            values = await self._link.read(part)
        except PollFailure as failure:
            poll.failure = failure
            return False
        self._note_round_trip((poll.device,))
        for read in reads:
            poll.raw[read.point.name] = part.values_of(read, values)
        return True

    def _note_round_trip(self, devices: Sequence[ModbusDevice]) -> None:
        """Remember the round trip of the request just answered for each device it read."""
        for device in devices:
            self._stats.round_trip[device.id] = self._stats.last_round_trip

    async def _deliver(self, poll: _Poll, sink: ReadingSink) -> None:
        """Hand one device's readings to the sink, and update its health and backoff."""
        device, failure = poll.device, poll.failure
        self._stats.polls += 1
        self._note(device, failure)
        at = now_ns()
        if failure is None:
            readings = [_reading(device, p, poll.raw[p.name], at) for p in device.profile.points]
        else:
            readings = bad_readings(device, failure, at)
        with self._delivery:  # a failing sink costs one poll, not polling
            await sink(readings)

    def _note(self, device: ModbusDevice, failure: PollFailure | None) -> None:
        """Back a failing device off and log it once; log and forget it when it recovers."""
        health = self._health[device.id]
        if failure is None:
            health.backoff.reset()
            if health.suspect:
                self._suspects -= 1
            health.suspect, health.due = False, 0.0
            if self._logged.pop(device.id, None) is not None:
                log.info("device %s answering again", device.id)
            return
        self._stats.last_error[device.id] = failure.detail
        if failure.quality is Quality.DISCONNECTED:
            return  # the endpoint's to log and to retry, not each device's
        if failure.gateways:
            return  # the gateway was behind: asked again next cycle, not backed off
        if not health.suspect:
            self._suspects += 1
        health.suspect = True
        delay = health.backoff.next_delay()
        if failure.quality is Quality.TIMEOUT:  # each try holds the line for a whole timeout
            delay = max(delay, SILENT_SHARE * self._link.spec.timeout)
        health.due = asyncio.get_running_loop().time() + delay
        if self._logged.get(device.id) is not failure.quality:
            self._logged[device.id] = failure.quality
            log.warning(
                "device %s (unit %d on %s): %s; backing off up to %g s",
                device.id,
                device.unit,
                self._link.spec.where,
                failure.detail,
                DEVICE_BACKOFF_CAP,
            )


def _tick_at_or_after(moment: float) -> int:
    """The number of the first tick of the grid at or after `moment` (within a microsecond;
    an interval that is no whole number of ticks wakes at the next one)."""
    return math.ceil(moment / TICK - 1e-5)


def _reading(device: ModbusDevice, point: RegisterPoint, raw: Sequence[int], at: int) -> Reading:
    value, quality, detail = decode_point(point, raw)
    return Reading(device.id, point.name, value, quality, point.unit, at, detail)


def bad_readings(device: ModbusDevice, failure: PollFailure, observed_at: int) -> list[Reading]:
    """One reading per point of the device, all with the failure's quality and detail."""
    return [
        Reading(device.id, p.name, None, failure.quality, p.unit, observed_at, failure.detail)
        for p in device.profile.points
    ]
