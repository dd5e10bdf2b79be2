"""One endpoint's connection: a TCP socket or an RS-485 line, kept up, one request at a time.

An endpoint (a fire panel's Modbus gateway, an I/O module, an RS-485 bus of RTU units) is one
connection that many devices share, told apart by unit id. Requests on it are strictly one at
a time: TCP gateways often require it, and on a bus only one frame may be on the line. A
failed request becomes a `PollFailure` whose quality and detail the device's readings carry.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import random
import time
from dataclasses import dataclass, field, fields

from core import Backoff, ConnectionHealth, FiregwError, Quality
from drivers.modbus.client import Answer, Client, MalformedAnswer, NoAnswer, NotConnected, OnLost
from drivers.modbus.merge import Request
from drivers.modbus.spec import ModbusEndpointSpec
from drivers.modbus.tcp import TcpClient, Timeouts

log = logging.getLogger(__name__)

RECONNECT_INITIAL = 1.0
RECONNECT_CAP = 30.0
CONNECT_TIMEOUT = 5.0
"""Seconds a TCP connect may take: its own, not the request timeout. A loaded box (a start of
a few thousand endpoints beside other busy jobs) takes longer than a request's second to
complete a handshake, and a connect given up too early is a device wrongly counted lost."""
CONNECTS_AT_ONCE = 32
"""Connection attempts in progress at one time, across all the endpoints of a driver: at a
start of thousands, the rest wait their turn (a moment each) instead of all crowding the
event loop and the servers' listen queues at once, where they time out together."""
LATE = 0.25
"""Seconds late a request's timeout may fire before it is the gateway's, not the device's: a
starved event loop (a start of thousands of endpoints beside busy jobs) notices a timeout
late and may not have read the answer waiting in its socket, so that device is neither backed
off nor counted silent for it; the gateway's `KeepingUp` sees the same lag."""
UNANSWERED_BEFORE_RECONNECT = 3
"""After this many TCP requests in a row without an answer from any unit the connection is
dropped and made again: a half-open TCP connection (a cable pulled, a gateway rebooted) would
otherwise time out forever. A serial line has no such state, so silent units never reopen it."""

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


_EXCEPTION_HINTS = {
    1: "the unit does not serve this table: check the profile's registers",
    2: "the unit has no such registers: check the device's unit and address in the site "
    "file, and its profile's registers",
    10: "the gateway has no path to this unit: check the device's unit in the site file",
    11: "nothing answered behind the gateway: check the device's unit in the site file and "
    "the line to the device",
}
"""What to check for the exception codes a wrong site file or profile gives."""


def exception_detail(code: int, request: Request) -> str:
    """`exception 2 (illegal data address) reading holding registers 100-103 of unit 7: ...`"""
    name = EXCEPTION_NAMES.get(code, "unknown exception code")
    table = request.function.value.replace("_", " ") + "s"
    last = request.address + request.count - 1
    what = (
        f"exception {code} ({name}) reading {table} {request.address}-{last} of unit {request.unit}"
    )
    hint = _EXCEPTION_HINTS.get(code)
    return f"{what}: {hint}" if hint else what


@dataclass(slots=True)
class EndpointStats:
    """Counters of one endpoint, for the gateway's status page and the benchmark.

    `requests / cycles` is what one poll cycle costs on the wire after merging.
    """

    cycles: int = 0
    polls: int = 0
    requests: int = 0
    responses: int = 0
    timeouts: int = 0
    exceptions: int = 0
    disconnected: int = 0
    mismatches: int = 0
    """Answers to another question (another function code or unit), refused as data."""
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    late_timeouts: int = 0
    """Timeouts noticed too late to blame the device (the gateway's loop was behind, `LATE`)."""
    last_error: dict[str, str] = field(default_factory=dict)
    round_trip: dict[str, float] = field(default_factory=dict)
    """Seconds from sending the latest answered request that read a device to its answer."""
    last_round_trip: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """The counters as a plain dict (the last errors per device as a copy)."""
        per_device = ("last_error", "round_trip")
        counters: dict[str, object] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in per_device
        }
        return {
            **counters,
            "last_error": dict(self.last_error),
            "round_trip": dict(self.round_trip),
        }


class PollFailure(FiregwError):
    """Why a read produced no data: the quality and detail the devices' readings get.

    `gateways` is true when the gateway itself was at fault (its loop too late, see `LATE`):
    the device is not backed off for it.
    """

    def __init__(self, quality: Quality, detail: str, *, gateways: bool = False) -> None:
        super().__init__(detail)
        self.quality = quality
        self.detail = detail
        self.gateways = gateways


def make_client(
    spec: ModbusEndpointSpec, on_lost: OnLost, timeouts: Timeouts | None = None
) -> Client:
    """The endpoint's client: a TCP socket of our own (its timeouts checked with the other
    endpoints' in `timeouts`), or pymodbus on a serial line (imported for a site that has
    one: 3.5 MB that a site of Modbus TCP endpoints has no use for)."""
    if spec.serial is None:
        return TcpClient(spec.host or "", spec.port, spec.timeout, on_lost, timeouts=timeouts)
    from drivers.modbus.rtu import RtuClient  # noqa: PLC0415

    return RtuClient(spec.id, spec.serial, spec.timeout, on_lost)


class Link:
    """The endpoint's one connection: kept up from `start` to `stop`; `read` sends one request
    at a time.

    Keeping it up takes no task of its own while it is up: a connection attempt is a short
    task, started at once or when the backoff's timer fires, and a lost connection is the
    client's callback. At 10x the reference site laid out one endpoint per device, a task
    per link waiting on its own events was a coroutine chain, two events and a task group
    for each of 1,550 endpoints, 5 MB of the gateway's memory (see docs/many-endpoints.md).

    Connection attempts wait for a turn from `pace`, shared by the endpoints of a driver (see
    `CONNECTS_AT_ONCE`); requests on a connection that is up never wait for it. With
    `one_reader` (one poll group reads the endpoint, one request after the other) requests
    cannot overlap, so they take no lock: a fiftieth of the gateway's CPU at 10x the
    reference site laid out one endpoint per device.
    """

    __slots__ = (
        "_answered",
        "_attempted",
        "_backoff",
        "_client",
        "_connecting",
        "_had_turn",
        "_lock",
        "_mute",
        "_pace",
        "_retry",
        "_timeouts",
        "_unanswered",
        "_up",
        "_waiting_ready",
        "health",
        "last_answer",
        "spec",
        "stats",
    )

    def __init__(
        self,
        spec: ModbusEndpointSpec,
        stats: EndpointStats,
        rng: random.Random,
        pace: asyncio.Semaphore | None = None,
        timeouts: Timeouts | None = None,
        *,
        one_reader: bool = False,
    ) -> None:
        self.spec = spec
        if spec.serial is not None:  # pymodbus, imported now rather than on the event loop
            importlib.import_module("drivers.modbus.rtu")
        self._timeouts = timeouts
        self.stats = stats
        self._pace = pace if pace is not None else asyncio.Semaphore(CONNECTS_AT_ONCE)
        self._had_turn = False
        self._client: Client | None = None
        self._lock = None if one_reader else asyncio.Lock()
        self._backoff = Backoff(RECONNECT_INITIAL, RECONNECT_CAP, rng=rng)
        self._up = False
        """A connection was made and has not been lost or dropped since."""
        self._connecting: asyncio.Task[None] | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._attempted = False
        self._waiting_ready: list[asyncio.Future[None]] = []
        self.health = ConnectionHealth(
            log,
            f"endpoint {spec.id}",
            retrying=f"retrying with backoff up to {RECONNECT_CAP:g} s",
            counters=stats,
        )
        self._answered = False
        self._unanswered = 0
        self._mute = False
        """The endpoint accepts connections but has answered nothing since it was said so:
        reconnecting to it is not news until it answers again."""
        self.last_answer: float | None = None
        """Monotonic time of the latest answer from any unit (an exception is an answer)."""

    @property
    def connected(self) -> bool:
        """Whether the endpoint's connection is up right now."""
        return self._client is not None and self._client.connected

    async def ready(self) -> None:
        """Return once the first connection attempt is over, whatever its outcome."""
        if self._attempted:
            return
        waiting = asyncio.get_running_loop().create_future()
        self._waiting_ready.append(waiting)  # one future each: cancelling one spares the rest
        try:
            await waiting
        finally:
            if waiting in self._waiting_ready:
                self._waiting_ready.remove(waiting)

    @property
    def queued(self) -> bool:
        """Whether the first connection attempt still waits for its turn (see `pace`)."""
        return not self._had_turn

    def start(self) -> None:
        """Connect now, and reconnect with backoff whenever the connection is lost, until
        `stop`.

        A connection that answered requests is remade at once when it drops; a failed connect,
        or a connection that died without a single answer (a gateway accepting and closing at
        once because its connection slots are taken), waits for the backoff first.
        """
        self._client = make_client(self.spec, self._connection_lost, self._timeouts)
        self._attempted, self._up = False, False
        self._connect_now()

    async def stop(self) -> None:
        """Stop reconnecting and close the connection; waits for an attempt under way to end."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        connecting, self._connecting = self._connecting, None
        if connecting is not None:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
        if self._client is not None:
            self._client.close()
            self._client = None
        self._up = False

    def _connect_now(self) -> None:
        self._retry = None
        if self._client is None:  # stopped meanwhile
            return
        self._connecting = asyncio.get_running_loop().create_task(
            self._attempt(self._client), name=f"{self.spec.id} connect"
        )
        self._connecting.add_done_callback(self._attempt_over)

    def _connect_later(self) -> None:
        if self._client is None:
            return
        delay = self._backoff.next_delay()
        self._retry = asyncio.get_running_loop().call_later(delay, self._connect_now)

    async def _attempt(self, client: Client) -> None:
        connected = await self._connect(client)
        self._answered, self._unanswered = False, 0
        if connected and client.connected:
            self._up = True
        else:  # refused, or closed by the peer before this task saw the connection made
            self._connect_later()

    def _attempt_over(self, attempt: asyncio.Task[None]) -> None:
        """The attempt's task ended: wake `ready`; a crash (a bug) is logged and retried."""
        if self._connecting is attempt:
            self._connecting = None
        self._attempted = True
        for waiting in self._waiting_ready:
            if not waiting.done():
                waiting.set_result(None)
        if attempt.cancelled():
            return
        error = attempt.exception()
        if error is not None:
            log.error(
                "endpoint %s: connection attempt crashed; retrying with backoff",
                self.spec.id,
                exc_info=error,
            )
            self._connect_later()

    def _connection_lost(self) -> None:
        """The client's callback when the connection drops: reconnect."""
        if not self._up:
            return
        self.health.lost(f"connection to {self.spec.where} lost")
        self._reconnect()

    def _reconnect(self) -> None:
        """The connection is gone: again at once if it answered, else after the backoff."""
        self._up = False
        if self._answered:
            self._backoff.reset()
            self._connect_now()
        else:
            self._connect_later()

    async def _connect(self, client: Client) -> bool:
        """One connection attempt (in its turn), counted and logged by the endpoint's health."""
        where = self.spec.where
        try:
            async with self._pace:
                self._had_turn = True
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    connected = await client.connect()
        except TimeoutError:
            connected = False
        except OSError as error:
            self.health.failed(f"cannot connect to {where} ({error})")
            return False
        if connected and self._mute:
            self.stats.connects += 1
            self.stats.reconnects += 1
            log.debug(
                "endpoint %s: connected to %s again, still waiting for an answer",
                self.spec.id,
                where,
            )
        elif connected:
            self.health.connected(where)
        else:
            self.health.failed(f"cannot connect to {where}")
        return connected

    async def read(self, request: Request) -> list[int] | list[bool]:
        """Send one request (waiting for the line) and return its `count` values.

        Raises `PollFailure`: DISCONNECTED, TIMEOUT, EXCEPTION (with the code) or
        DECODE_ERROR for a short response.
        """
        if self._lock is None:
            response = await self._exchange(request)
        else:
            async with self._lock:
                response = await self._exchange(request)
        self.stats.responses += 1
        self.last_answer = time.monotonic()
        self._answered, self._unanswered = True, 0
        if self._mute:
            self._mute = False
            self.health.connected(self.spec.where, "answering again")
        return self._values(response, request)

    async def _exchange(self, request: Request) -> Answer:
        """Send the request and await its answer; the client's errors become PollFailures."""
        client = self._client
        if client is None or not client.connected:
            self.stats.disconnected += 1
            raise PollFailure(Quality.DISCONNECTED, f"not connected to {self.spec.where}")
        sent = time.monotonic()
        self.stats.requests += 1
        try:
            answer = await client.read(request)
        except NotConnected as exc:  # it was connected when the request went out
            self.stats.disconnected += 1
            detail = f"connection to {self.spec.where} lost"
            raise PollFailure(Quality.DISCONNECTED, detail) from exc
        except NoAnswer as exc:
            raise self._no_response(client, sent) from exc
        except MalformedAnswer as exc:
            self.stats.mismatches += 1
            raise PollFailure(Quality.DECODE_ERROR, str(exc)) from exc
        self.stats.last_round_trip = time.monotonic() - sent
        return answer

    def _no_response(self, client: Client, sent: float) -> PollFailure:
        """The failure for an unanswered request; drops a TCP connection nobody answers on."""
        if not client.connected:
            self.stats.disconnected += 1
            return PollFailure(Quality.DISCONNECTED, f"connection to {self.spec.where} lost")
        self.stats.timeouts += 1
        late = time.monotonic() - sent - self.spec.timeout
        if late > LATE:  # the gateway's own loop was behind: not the device's silence
            self.stats.late_timeouts += 1
            detail = (
                f"no response within {self.spec.timeout:g} s (the gateway was {late:.1f} s late)"
            )
            return PollFailure(Quality.TIMEOUT, detail, gateways=True)
        self._unanswered += 1
        if self.spec.serial is None and self._unanswered >= UNANSWERED_BEFORE_RECONNECT:
            self._reconnect_unanswered(client)
        return PollFailure(Quality.TIMEOUT, f"no response within {self.spec.timeout:g} s")

    def _reconnect_unanswered(self, client: Client) -> None:
        """Drop a connection nobody answers on. Said once; while the endpoint goes on
        accepting connections and answering nothing, its reconnections are not logged."""
        where, unanswered = self.spec.where, self._unanswered
        if not self._answered and not self._mute:
            self._mute = True
            self.health.lost(
                f"{where} accepts connections but answered none of {unanswered} requests in a "
                "row: is its Modbus server working, and does it answer these unit ids? "
                f"Reconnecting with backoff up to {RECONNECT_CAP:g} s, quietly until it answers"
            )
        elif not self._mute:
            self.health.lost(f"{unanswered} requests in a row unanswered; reconnecting to {where}")
        else:
            log.debug("endpoint %s: %d requests unanswered, reconnecting", self.spec.id, unanswered)
        client.close()
        if self._up:
            self._reconnect()

    def _values(self, answer: Answer, request: Request) -> list[int] | list[bool]:
        self._check_answers(answer, request)
        if answer.exception is not None:
            self.stats.exceptions += 1
            raise PollFailure(Quality.EXCEPTION, exception_detail(answer.exception, request))
        values = answer.values
        if len(values) < request.count:
            detail = f"short response: {len(values)} of {request.count} values"
            raise PollFailure(Quality.DECODE_ERROR, detail)
        return values[: request.count]

    def _check_answers(self, answer: Answer, request: Request) -> None:
        """An answer to another question is never data: a gateway that mixes up its replies
        (another function, another unit) would otherwise turn a fault into a false fire."""
        asked, got = request.function.code, answer.function
        if got != asked:
            self.stats.mismatches += 1
            raise PollFailure(
                Quality.DECODE_ERROR,
                f"the answer is for function {got}, the request was function {asked}: "
                "not taken as data",
            )
        if answer.unit not in (request.unit, 0):
            self.stats.mismatches += 1
            raise PollFailure(
                Quality.DECODE_ERROR,
                f"the answer is from unit {answer.unit}, the request was for unit "
                f"{request.unit}: not taken as data",
            )
