"""Sending: the queue's messages one at a time, fire first, each until the receiver says ACK;
link tests when there is nothing to say; and whether the path counts as down.

- One message is in flight at a time, the first of the queue (fire first, then in the order
  taken). It is sent with a fresh timestamp and waited for `ack_timeout`; an ACK (an
  encrypted one that decrypts under the key, with a fresh time) takes it off the queue.
- No answer, a broken connection or a NAK: the attempt failed; the next one comes after a
  backoff of 1 s doubling to 10 s (with jitter, so a campus of gateways does not retry in
  step) and takes the first of the queue again, so a fire that arrived meanwhile goes before
  the trouble that was being retried. A retransmission keeps its sequence number.
- A NAK that carries the receiver's clock, when that differs from ours by more than 10 s,
  means our timestamps are outside its window: they follow the receiver's clock from then on
  (a box whose clock was lost still reports its fire). A NAK with the clocks agreeing means
  the account or the key is wrong: said once at ERROR.
- DUH (the receiver does not understand the message: a code it does not know) three times
  for one message: it is set aside (logged at ERROR, kept in the queue file) so that it cannot
  hold back the messages behind it.
- Every account gets a link test (a DC-09 NULL message) when it has had no acknowledged
  message for `supervision`, and one at start, which proves the path and the key at once.
- The path is *down* once an attempt has kept failing for `down_after` with no ACK since:
  the gateway's reading `uplink_ok` is false, and the rules raise `uplink_down` on the feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum, auto

from core import Backoff, ConnectionHealth, RateLimit
from gateway.config import UplinkSettings
from gateway.sqlitefile import STORAGE_ERRORS
from gateway.uplink.frames import (
    Answer,
    AnswerError,
    MessageType,
    Reply,
    Route,
    block,
    parse_answer,
)
from gateway.uplink.queue import Queued, UplinkQueue
from gateway.uplink.transport import PathError, Transport

__all__ = ["Link", "LinkStats"]

log = logging.getLogger(__name__)

RETRY_INITIAL = 1.0
RETRY_CAP = 10.0
"""Seconds between attempts after a failure, doubling to the cap (GB 26875.1 wants a fire at
the centre within 10 s: once the path is back, a fire waits at most this long)."""
CLOCK_TOLERANCE = 10.0
"""Seconds our clock may differ from the receiver's before timestamps follow the receiver's."""
FRESH_ANSWER = 120.0
"""Seconds an encrypted acknowledgement's time may be from ours; an older one is a replay."""
NOT_UNDERSTOOD_TIMES = 3
"""DUH answers to one message before it is set aside."""


class Outcome(Enum):
    DELIVERED = auto()
    REFUSED = auto()
    NOT_UNDERSTOOD = auto()
    NO_ANSWER = auto()


@dataclass
class LinkStats:
    """Counters of this run, for the gateway's readings and the benchmark."""

    sent: int = 0
    """Messages acknowledged (not counting link tests)."""
    retransmissions: int = 0
    link_tests: int = 0
    refused: int = 0
    """NAK answers."""
    not_understood: int = 0
    """DUH answers."""
    no_answer: int = 0
    """Attempts that got no answer or met a broken path."""
    set_aside: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Link:
    """The sending side of the uplink; see the module.

    Args:
        settings: the site's `uplink:`.
        queue: the open uplink queue.
        transport: the path to the receiver.
        key: the AES key, or None to send in the clear.
        accounts: every account of the site, for the link tests.
        on_change: called (it must not block) when the path goes down or comes back.
    """

    def __init__(
        self,
        settings: UplinkSettings,
        queue: UplinkQueue,
        transport: Transport,
        key: bytes | None,
        accounts: tuple[str, ...],
        *,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.transport = transport
        self.key = key
        self.accounts = accounts
        self.on_change = on_change
        self.stats = LinkStats()
        self.offset = 0.0
        """Seconds the receiver's clock is ahead of ours (learned from its NAK)."""
        self.health = ConnectionHealth(
            log,
            f"uplink to {transport.where}",
            retrying=(
                "the messages wait in the uplink queue on disk and are sent, fire first, as "
                f"soon as the receiver answers (retrying with backoff up to {RETRY_CAP:g} s)"
            ),
        )
        self.last_ack_at: float | None = None
        """Wall-clock seconds of the latest acknowledgement."""
        self._failing_since: float | None = None
        self._contact: dict[str, float] = {}
        self._backoff = Backoff(RETRY_INITIAL, RETRY_CAP)
        self._wake = asyncio.Event()
        self._refusal_said = False
        self._duh: tuple[int, int] = (0, 0)
        self._was_down = False
        self._failing = RateLimit(60.0)

    def wake(self) -> None:
        """Messages were queued: send them now (never blocks)."""
        self._wake.set()

    @property
    def down(self) -> bool:
        """Whether an attempt has kept failing for `down_after`, with no ACK since."""
        since = self._failing_since
        return since is not None and time.monotonic() - since >= self.settings.down_after

    @property
    def known(self) -> bool:
        """Whether this run knows the state of the path: the receiver acknowledged, or the
        attempts have failed for `down_after`. At a start it does not yet."""
        return self.last_ack_at is not None or self.down

    @property
    def failing_for(self) -> float:
        """Seconds the attempts have failed without an ACK (0.0 while the path works)."""
        since = self._failing_since
        return 0.0 if since is None else time.monotonic() - since

    async def run(self) -> None:
        """Send until cancelled. A queue file that cannot be read or written (a failing
        disk) is tried again after a pause; a message acknowledged meanwhile but not yet
        deleted is sent again later, with its number."""
        while True:
            try:
                await self._next()
            except STORAGE_ERRORS as error:
                if self._failing.due("queue"):
                    log.error("uplink: the uplink queue %s fails: %s", self.queue.path, error)
                await asyncio.sleep(RETRY_CAP)

    async def _next(self) -> None:
        """Send the first message of the queue, or a link test when one is due, or wait."""
        self._wake.clear()  # before looking: a message queued from here on wakes the wait
        queued = await self.queue.next()
        if queued is not None:
            await self._deliver(queued)
            return
        due = self._link_test_due()
        if due is None:
            await self._send_link_test(self._next_account())
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(due):
                await self._wake.wait()

    async def _deliver(self, queued: Queued) -> None:
        message = queued.message
        kind, data = message.data(self.settings.format, self.settings.text)
        if queued.retransmission:
            self.stats.retransmissions += 1
        outcome = await self._attempt(message.account, kind, data, queued.sequence)
        if outcome is Outcome.DELIVERED:
            await self.queue.delivered(queued)
            self.stats.sent += 1
            log.debug("uplink: %s of %s acknowledged", message.code, message.alarm_id)
            return
        if outcome is Outcome.NOT_UNDERSTOOD and self._not_understood(queued):
            await self.queue.set_aside(queued, "the receiver does not understand it (DUH)")
            self.stats.set_aside += 1
            log.error(
                "uplink: the receiver does not understand %s (%s, %s) and answered DUH %d "
                "times; set aside in the uplink queue, the next messages go on. Give the rule "
                "a code the centre knows under uplink.codes",
                message.code,
                message.alarm_id,
                message.transition,
                NOT_UNDERSTOOD_TIMES,
            )
            return
        await asyncio.sleep(self._backoff.next_delay())

    async def _send_link_test(self, account: str) -> None:
        sequence = await self.queue.link_test_sequence(account)
        outcome = await self._attempt(account, MessageType.NULL, "]", sequence)
        if outcome is Outcome.DELIVERED:
            self.stats.link_tests += 1
        else:
            await asyncio.sleep(self._backoff.next_delay())

    async def _attempt(self, account: str, kind: MessageType, data: str, sequence: int) -> Outcome:
        """Send one block and wait for its answer; say what came of it."""
        route = Route(account, self.settings.receiver_number, self.settings.line_number)
        raw = block(kind, sequence, route, data, sent_at=self._now(), key=self.key)
        try:
            await self.transport.send(raw)
            answer = await self._answer(sequence)
        except (PathError, TimeoutError) as error:
            await self.transport.reset()
            self.stats.no_answer += 1
            self._failed(str(error) if isinstance(error, PathError) else "no answer in time")
            return Outcome.NO_ANSWER
        if answer.reply in (Reply.ACK, Reply.RSP):
            self._acknowledged(account)
            return Outcome.DELIVERED
        if answer.reply is Reply.DUH:
            self.stats.not_understood += 1
            self._failed("the receiver does not understand a message (DUH)")
            return Outcome.NOT_UNDERSTOOD
        self.stats.refused += 1
        self._refused(answer)
        return Outcome.REFUSED

    async def _answer(self, sequence: int) -> Answer:
        """The answer to message `sequence` (a NAK answers whatever came), within the timeout;
        other blocks (late answers to earlier messages, garbage) are passed over."""
        async with asyncio.timeout(self.settings.ack_timeout):
            while True:
                raw = await self.transport.receive()
                try:
                    answer = parse_answer(raw, self.key)
                except AnswerError as error:
                    log.debug("uplink: passing over an answer: %s", error.reason)
                    continue
                if answer.reply is not Reply.NAK and answer.sequence != sequence:
                    continue
                if self._fresh(answer):
                    return answer
                log.warning("uplink: an acknowledgement with an old time (a replay?) ignored")

    def _fresh(self, answer: Answer) -> bool:
        if not answer.encrypted or answer.sent_at is None:
            return True
        skew = (answer.sent_at - self._now()).total_seconds()
        return abs(skew) <= FRESH_ANSWER

    def _acknowledged(self, account: str) -> None:
        now = time.monotonic()
        self._contact[account] = now
        self.last_ack_at = time.time()
        self._failing_since = None
        self._backoff.reset()
        self._refusal_said = False
        if not self.health.up and not self.health.failures:
            log.info("uplink: the receiver at %s acknowledges", self.transport.where)
        self.health.recovered("the receiver acknowledges again")
        self._changed()

    def _failed(self, reason: str) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        self.health.failed(reason)
        self._changed()

    def _refused(self, answer: Answer) -> None:
        """A NAK: our clock outside the receiver's window, or the account or key wrong."""
        if answer.sent_at is not None:
            offset = (answer.sent_at - datetime.now(UTC)).total_seconds()
            if abs(offset - self.offset) > CLOCK_TOLERANCE:
                log.warning(
                    "uplink: the receiver refuses our messages and its clock differs from "
                    "ours by %+.0f s: our timestamps follow the receiver's clock from now on "
                    "(check this box's time: NTP)",
                    offset,
                )
                self.offset = offset
                self._failed("refused (NAK): our clock was outside the receiver's window")
                return
        self._failed("refused (NAK)")
        if not self._refusal_said:
            self._refusal_said = True
            log.error(
                "uplink: the receiver at %s refuses our messages (NAK) although the clocks "
                "agree: it does not know account %s, or the key is not its key (check "
                "uplink.account, uplink.key and uplink.key_format); retrying",
                self.transport.where,
                "/".join(self.accounts),
            )

    def _not_understood(self, queued: Queued) -> bool:
        """Count one more DUH for this message; whether it has had enough to be set aside."""
        number, count = self._duh
        count = count + 1 if number == queued.id else 1
        self._duh = (queued.id, count)
        return count >= NOT_UNDERSTOOD_TIMES

    def _changed(self) -> None:
        down = self.down
        if down != self._was_down:
            self._was_down = down
            if down:
                log.error(
                    "uplink: no acknowledgement from the receiver for %.0f s: trouble "
                    "uplink_down; the messages wait in the queue",
                    self.failing_for,
                )
            else:
                log.info("uplink: the receiver acknowledges again; uplink_down returns")
        if self.on_change is not None:
            self.on_change()

    def _link_test_due(self) -> float | None:
        """None when an account's link test is due now, else the seconds until the next."""
        now = time.monotonic()
        waits = [
            self._contact.get(account, -self.settings.supervision) + self.settings.supervision
            for account in self.accounts
        ]
        wait = min(waits) - now
        return None if wait <= 0 else wait

    def _next_account(self) -> str:
        return min(self.accounts, key=lambda account: self._contact.get(account, float("-inf")))

    def _now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)
