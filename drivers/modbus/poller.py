"""Polling Modbus TCP devices: one connection per endpoint, every device on its own schedule.

An endpoint (a fire panel's Modbus gateway, an I/O module) is one TCP connection that many
devices share, told apart by unit id. Requests on it are strictly one at a time, as most
gateways require. Each device is polled at its own interval from a random phase; a device that
fails backs off so it does not cost its neighbours a timeout on every round; the connection is
re-established with backoff when it drops. Nothing but cancellation ends a poll loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from drivers.backoff import Backoff
from drivers.modbus.decode import decode_point
from drivers.modbus.profile import Function, RegisterPoint
from drivers.modbus.spec import ModbusDevice, ModbusEndpointSpec, ReadBlock, plan_reads
from drivers.reading import Quality, Reading, now_ns
from drivers.sink import ReadingSink

log = logging.getLogger(__name__)


DEVICE_BACKOFF_CAP = 30.0
RECONNECT_INITIAL = 1.0
RECONNECT_CAP = 30.0
MAX_PHASE = 1.0
UNANSWERED_BEFORE_RECONNECT = 3
"""After this many requests in a row without an answer from any unit the connection is dropped
and made again: a half-open TCP connection (a cable pulled, a gateway rebooted) would otherwise
time out forever."""

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


@dataclass
class EndpointStats:
    """Counters of one endpoint, for the gateway's status page and the benchmark."""

    polls: int = 0
    requests: int = 0
    responses: int = 0
    timeouts: int = 0
    exceptions: int = 0
    disconnected: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    last_error: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The counters as a plain dict (the last errors per device as a copy)."""
        counters: dict[str, object] = {k: v for k, v in vars(self).items() if k != "last_error"}
        return {**counters, "last_error": dict(self.last_error)}


class PollFailure(Exception):
    """Why one device's poll produced no data: the quality and detail its readings get."""

    def __init__(self, quality: Quality, detail: str) -> None:
        super().__init__(detail)
        self.quality = quality
        self.detail = detail


class _Schedule:
    """When a device is next due, on the monotonic clock and without drift.

    Due times advance by whole intervals from the first one, so time spent polling never
    shifts the schedule; polls missed while the connection was busy are skipped, not queued.
    A failing device waits an exponential backoff (up to 30 s, with jitter) instead.
    """

    def __init__(self, interval: float, first: float, rng: random.Random) -> None:
        self.interval = interval
        self.due = first
        initial = min(2 * interval, DEVICE_BACKOFF_CAP)
        self._backoff = Backoff(initial, max(initial, DEVICE_BACKOFF_CAP), rng=rng)

    def advance(self, now: float, *, failed: bool) -> None:
        if failed:
            self.due = max(self.due + self.interval, now + self._backoff.next_delay())
            return
        self._backoff.reset()
        self.due += self.interval
        if self.due < now:
            self.due += math.ceil((now - self.due) / self.interval) * self.interval


class EndpointPoller:
    """Polls every device of one endpoint over one connection, forever.

    Requests are serialised on the connection. Every poll of a device ends in one call of the
    sink with a reading for each point of its profile: good values with one `observed_at`, or,
    if the device could not be read, bad readings whose quality says why (EXCEPTION, TIMEOUT,
    DISCONNECTED). Failures are logged once per device and kind, recovery is logged too.
    """

    def __init__(self, spec: ModbusEndpointSpec, *, rng: random.Random | None = None) -> None:
        self.spec = spec
        self.stats = EndpointStats()
        self._rng = rng or random.Random()
        self._plans = {device.id: plan_reads(device) for device in spec.devices}
        self._client: AsyncModbusTcpClient | None = None
        self._lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._logged: dict[str, Quality] = {}
        self._crashed: set[str] = set()
        self._down_logged = False
        self._answered = False
        self._unanswered = 0

    @property
    def connected(self) -> bool:
        """Whether the endpoint's connection is up right now."""
        return self._client is not None and self._client.connected

    async def run(self, sink: ReadingSink) -> None:
        """Poll until cancelled, delivering each poll's readings to `sink`; closes on exit."""
        client = AsyncModbusTcpClient(
            self.spec.host,
            port=self.spec.port,
            name=f"modbus-{self.spec.id}",
            timeout=self.spec.timeout,
            retries=0,
            reconnect_delay=0,  # reconnecting is ours (with backoff), not pymodbus' own loop
            trace_connect=self._connection_changed,
        )
        client.set_max_no_responses(2**31)  # dropping a silent connection is ours, see above
        self._client = client
        self._first_attempt.clear()
        self._lost.set()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._keep_connected(client), name=f"{self.spec.id} connect")
                for device in self.spec.devices:
                    tasks.create_task(self._poll_forever(device, sink), name=f"poll {device.id}")
        finally:
            client.close()
            self._client = None

    def _connection_changed(self, connected: bool) -> None:
        """pymodbus' connect/disconnect callback: wake the reconnect loop on a loss."""
        if connected or self._lost.is_set():
            return
        log.warning("endpoint %s: connection to %s lost", self.spec.id, self._where)
        self._down_logged = True
        self._lost.set()

    @property
    def _where(self) -> str:
        return f"{self.spec.host}:{self.spec.port}"

    async def _keep_connected(self, client: AsyncModbusTcpClient) -> None:
        """Connect, and reconnect whenever the connection is lost.

        A connection that answered requests is remade at once when it drops; a failed connect,
        or a connection that died without a single answer (a gateway accepting and closing at
        once because its connection slots are taken), waits for the backoff first.
        """
        backoff = Backoff(RECONNECT_INITIAL, RECONNECT_CAP, rng=self._rng)
        while True:
            await self._lost.wait()
            connected = await self._connect(client)
            self._first_attempt.set()
            if connected:
                self._answered, self._unanswered = False, 0
                self._lost.clear()
                await self._lost.wait()
                if self._answered:
                    backoff.reset()
                    continue
            await asyncio.sleep(backoff.next_delay())

    async def _connect(self, client: AsyncModbusTcpClient) -> bool:
        try:
            connected = await client.connect()
        except Exception:  # the reconnect loop's boundary: keep trying whatever went wrong
            log.exception("endpoint %s: connecting to %s failed", self.spec.id, self._where)
            connected = False
        self._note_connection(connected)
        return connected

    def _note_connection(self, connected: bool) -> None:
        """Count the attempt; log the first failure, and the recovery, not every retry."""
        if not connected:
            self.stats.connect_failures += 1
            if not self._down_logged:
                log.warning(
                    "endpoint %s: cannot connect to %s; retrying with backoff up to %g s",
                    self.spec.id, self._where, RECONNECT_CAP,
                )  # fmt: skip
                self._down_logged = True
            return
        self.stats.connects += 1
        again = self.stats.connects > 1
        self.stats.reconnects += again
        self._down_logged = False
        self._answered = False
        self._unanswered = 0
        log.info("endpoint %s: connected to %s%s", self.spec.id, self._where, " again" * again)

    async def _poll_forever(self, device: ModbusDevice, sink: ReadingSink) -> None:
        """Poll one device on its own schedule, from a random phase, until cancelled."""
        await self._first_attempt.wait()
        loop = asyncio.get_running_loop()
        phase = self._rng.uniform(0.0, min(device.poll_interval, MAX_PHASE))
        schedule = _Schedule(device.poll_interval, loop.time() + phase, self._rng)
        while True:
            await asyncio.sleep(max(0.0, schedule.due - loop.time()))
            failed = await self._poll_guarded(device, sink)
            schedule.advance(loop.time(), failed=failed)

    async def _poll_guarded(self, device: ModbusDevice, sink: ReadingSink) -> bool:
        """Poll once; True when the device itself failed (so it backs off).

        This is the poll loop's boundary: nothing but cancellation gets past it, so a bug or a
        failing sink costs one poll, not the device's supervision.
        """
        try:
            failure = await self._poll(device, sink)
        except Exception:
            if device.id not in self._crashed:
                log.exception("device %s: poll failed unexpectedly; polling goes on", device.id)
                self._crashed.add(device.id)
            return False
        if device.id in self._crashed:
            log.info("device %s: polls complete normally again", device.id)
            self._crashed.discard(device.id)
        return failure is not None and failure.quality is not Quality.DISCONNECTED

    async def _poll(self, device: ModbusDevice, sink: ReadingSink) -> PollFailure | None:
        """Read, decode and deliver one poll of a device; return why it failed, if it did."""
        self.stats.polls += 1
        try:
            raw = await self._read_device(device)
        except PollFailure as failure:
            self._report(device, failure)
            await sink(bad_readings(device, failure, now_ns()))
            return failure
        observed_at = now_ns()
        self._report(device, None)
        await sink([_reading(device, p, raw[p.name], observed_at) for p in device.profile.points])
        return None

    async def _read_device(self, device: ModbusDevice) -> dict[str, Sequence[int]]:
        """The raw registers (or bits) of every point of the device, by point name."""
        async with self._lock:
            client = self._client
            if client is None or not client.connected:
                self.stats.disconnected += 1
                raise PollFailure(Quality.DISCONNECTED, f"not connected to {self._where}")
            raw: dict[str, Sequence[int]] = {}
            for block in self._plans[device.id]:
                values = await self._request(client, device.unit, block)
                for point in block.points:
                    start = device.address + point.address - block.address
                    raw[point.name] = values[start : start + point.count]
            return raw

    async def _request(
        self, client: AsyncModbusTcpClient, unit: int, block: ReadBlock
    ) -> Sequence[int]:
        """One read request; a failure becomes a PollFailure naming what went wrong."""
        self.stats.requests += 1
        try:
            response = await _send(client, unit, block)
        except ConnectionException as exc:
            self.stats.disconnected += 1
            raise PollFailure(Quality.DISCONNECTED, f"not connected to {self._where}") from exc
        except ModbusIOException as exc:
            raise self._no_response(client) from exc
        self.stats.responses += 1
        self._answered, self._unanswered = True, 0
        return self._values(response, block)

    def _no_response(self, client: AsyncModbusTcpClient) -> PollFailure:
        """The failure for an unanswered request; drops a connection nobody answers on."""
        if not client.connected:
            self.stats.disconnected += 1
            return PollFailure(Quality.DISCONNECTED, f"connection to {self._where} lost")
        self.stats.timeouts += 1
        self._unanswered += 1
        if self._unanswered >= UNANSWERED_BEFORE_RECONNECT:
            log.warning(
                "endpoint %s: %d requests in a row unanswered; reconnecting to %s",
                self.spec.id, self._unanswered, self._where,
            )  # fmt: skip
            client.close()
            self._down_logged = True
            self._lost.set()
        return PollFailure(Quality.TIMEOUT, f"no response within {self.spec.timeout:g} s")

    def _values(self, response: ModbusPDU, block: ReadBlock) -> Sequence[int]:
        if response.isError():
            self.stats.exceptions += 1
            code = response.exception_code
            name = EXCEPTION_NAMES.get(code, "unknown exception code")
            raise PollFailure(Quality.EXCEPTION, f"exception {code} ({name})")
        values: Sequence[int] = response.bits if block.function.is_bit else response.registers
        if len(values) < block.count:
            detail = f"short response: {len(values)} of {block.count} values"
            raise PollFailure(Quality.DECODE_ERROR, detail)
        return values[: block.count]

    def _report(self, device: ModbusDevice, failure: PollFailure | None) -> None:
        """Log a device's failure once per kind, and its recovery; DISCONNECTED is the
        endpoint's to log, not each device's."""
        if failure is None:
            if self._logged.pop(device.id, None) is not None:
                log.info("device %s answering again", device.id)
            return
        self.stats.last_error[device.id] = failure.detail
        if failure.quality in (Quality.DISCONNECTED, self._logged.get(device.id)):
            return
        self._logged[device.id] = failure.quality
        log.warning(
            "device %s (unit %d on %s): %s; backing off up to %g s",
            device.id, device.unit, self._where, failure.detail, DEVICE_BACKOFF_CAP,
        )  # fmt: skip


def _send(client: AsyncModbusTcpClient, unit: int, block: ReadBlock) -> Awaitable[ModbusPDU]:
    read = {
        Function.COIL: client.read_coils,
        Function.DISCRETE_INPUT: client.read_discrete_inputs,
        Function.HOLDING_REGISTER: client.read_holding_registers,
        Function.INPUT_REGISTER: client.read_input_registers,
    }[block.function]
    return read(block.address, count=block.count, device_id=unit)


def _reading(device: ModbusDevice, point: RegisterPoint, raw: Sequence[int], at: int) -> Reading:
    value, quality, detail = decode_point(point, raw)
    return Reading(device.id, point.name, value, quality, point.unit, at, detail)


def bad_readings(device: ModbusDevice, failure: PollFailure, observed_at: int) -> list[Reading]:
    """One reading per point of the device, all with the failure's quality and detail."""
    return [
        Reading(device.id, p.name, None, failure.quality, p.unit, observed_at, failure.detail)
        for p in device.profile.points
    ]


class ModbusDriver:
    """All Modbus TCP endpoints of a site, each polled by its own `EndpointPoller`."""

    def __init__(self, endpoints: Sequence[ModbusEndpointSpec]) -> None:
        ids = [spec.id for spec in endpoints]
        for endpoint_id in ids:
            if ids.count(endpoint_id) > 1:
                raise ValueError(f"modbus endpoint {endpoint_id!r} is listed twice")
        self.pollers = tuple(EndpointPoller(spec) for spec in endpoints)

    @property
    def stats(self) -> dict[str, EndpointStats]:
        """Each endpoint's counters, by endpoint id."""
        return {poller.spec.id: poller.stats for poller in self.pollers}

    async def run(self, sink: ReadingSink) -> None:
        """Poll every endpoint concurrently until cancelled (with no endpoints: just wait)."""
        async with asyncio.TaskGroup() as tasks:
            for poller in self.pollers:
                tasks.create_task(_supervise(poller, sink), name=f"modbus {poller.spec.id}")
            if not self.pollers:
                await asyncio.Event().wait()


async def _supervise(poller: EndpointPoller, sink: ReadingSink) -> None:
    """Restart a poller that ever ends, so one endpoint's bug never stops the others."""
    backoff = Backoff(RECONNECT_INITIAL, RECONNECT_CAP)
    while True:
        try:
            await poller.run(sink)
        except Exception:  # the supervisor boundary: log, wait, restart
            log.exception("modbus endpoint %s: poller crashed; restarting", poller.spec.id)
        await asyncio.sleep(backoff.next_delay())
