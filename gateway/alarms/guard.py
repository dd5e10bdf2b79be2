"""The feed's own retained topics, watched for the whole session: its own messages told from
anyone else's, foreign changes repaired, and a second gateway publishing as this site noticed.

What a newcomer to the feed believes is what the broker retains under `<prefix>/<site>/`:
each alarm's state and the gateway's status. Anyone who may publish there can change it: a
test tool, a bridge that loops, an attacker, or a second gateway configured with the same
site id. So the feed stays subscribed to those topics for as long as it is connected and
compares every message with what it sent itself.

Telling its own from foreign: MQTT 5's `no_local` would keep the feed's own messages from
coming back, but MQTT 3.1.1 is what every broker speaks (the demo's embedded amqtt speaks
nothing else), so the feed stays on 3.1.1 and recognises its echoes instead: it keeps each
payload it sent to a topic until it comes back. The broker delivers one client's messages in
the order it sent them, so an echo is always one of the payloads still expected, and a
message with the bytes the feed itself sent last on that topic is harmless whoever sent it.
Everything else is foreign, and the feed repairs it (feed.py says how): at most
`REPAIRS_PER_MINUTE` times a minute per topic, so two publishers that repair each other can
never loop at full speed, each repair logged (the first of a topic at once, then at most once
a minute) and counted.

Another gateway: every status document names the gateway's `instance` (a random id per run)
and `host`. A status from another instance that says `online` means a second gateway
publishes as this site (two buildings given the same site id): that is logged once at ERROR,
naming both, and while it lasts (a status from it within `OTHER_GATEWAY_GONE_AFTER`) the feed
repairs nothing and clears nothing, so neither erases the other's alarms.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from core import RateLimit

log = logging.getLogger(__name__)

ECHOES_KEPT = 64
"""Payloads kept per topic while their echo has not come back (more are never in flight)."""

REPAIRS_PER_MINUTE = 6
"""Most repairs of one topic in a minute: enough to undo any mistake, too few for a loop."""

OTHER_GATEWAY_GONE_AFTER = 60.0
"""Seconds without a status from another gateway after which it counts as gone: four of its
status intervals (15 s)."""


@dataclass(frozen=True, slots=True)
class OtherGateway:
    """Another gateway publishing as this site, as its status document names it."""

    instance: str
    host: str
    client_id: str | None
    started_at: int | None

    @classmethod
    def in_status(cls, document: object, mine: str) -> OtherGateway | None:
        """The gateway a status document names, unless it is this one (`mine`) or none."""
        if not isinstance(document, dict):
            return None
        instance = document.get("instance")
        if not isinstance(instance, str) or not instance or instance == mine:
            return None
        client_id, started_at = document.get("client_id"), document.get("started_at")
        return cls(
            instance,
            str(document.get("host") or "?"),
            client_id if isinstance(client_id, str) else None,
            started_at if isinstance(started_at, int) else None,
        )

    def describe(self) -> str:
        """ "instance 3f2a9c1e on host pi-west (client id ...)"."""
        client = f", client id {self.client_id}" if self.client_id else ""
        return f"instance {self.instance} on host {self.host}{client}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Echoes:
    """What the feed sent to each topic and has not seen come back yet."""

    def __init__(self) -> None:
        self._expected: dict[str, deque[bytes]] = {}
        self._last: dict[str, bytes] = {}

    def sent(self, topic: str, payload: bytes) -> None:
        self._expected.setdefault(topic, deque(maxlen=ECHOES_KEPT)).append(payload)
        self._last[topic] = payload

    def expects(self, topic: str, payload: bytes) -> bool:
        """Whether `payload` is an echo still to come on `topic` (nothing consumed)."""
        return payload in self._expected.get(topic, ())

    def is_own(self, topic: str, payload: bytes) -> bool:
        """An echo of the feed's own (consumed), or the bytes it last sent on the topic."""
        expected = self._expected.get(topic)
        if expected and payload in expected:
            while expected.popleft() != payload:
                pass  # older echoes the broker will not send again (a bridge dropped them)
            return True
        return payload == self._last.get(topic)

    def new_session(self) -> None:
        """A new connection (clean session): nothing sent before it comes back on it."""
        self._expected.clear()


class FeedGuard:
    """Echoes, repairs and the other gateway for one feed; it decides, the feed acts.

    Args:
        root: the feed's topic root, for the log lines.
        instance: this gateway's instance id; host: its host name.
        clock: monotonic seconds (for tests).
    """

    def __init__(
        self,
        root: str,
        instance: str,
        host: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.instance = instance
        self.host = host
        self.echoes = Echoes()
        self.repairs = 0
        """Foreign changes of the feed's retained topics this gateway has undone."""
        self._clock = clock
        self._repaired: dict[str, deque[float]] = {}
        self._repair_log = RateLimit(60.0)
        self._given_up = RateLimit(60.0)
        self._other: OtherGateway | None = None
        self._other_seen = 0.0
        self._suspect: OtherGateway | None = None
        self._suspect_seen = 0.0
        self._announced: set[str] = set()

    @property
    def other(self) -> OtherGateway | None:
        """Another gateway publishing as this site (seen within the last minute), or None."""
        if self._other is None or self._clock() - self._other_seen > OTHER_GATEWAY_GONE_AFTER:
            return None
        return self._other

    @property
    def holding(self) -> bool:
        """Whether clearing must wait: another gateway publishes, or may (`suspect`)."""
        if self.other is not None:
            return True
        recent = self._clock() - self._suspect_seen <= OTHER_GATEWAY_GONE_AFTER
        return self._suspect is not None and recent

    def suspect(self, other: OtherGateway) -> None:
        """The broker retained a recent `online` of another instance when the feed connected:
        another gateway, or this one's own last run, its last will not yet published (a
        power cut and a quick reboot). Nothing is said or raised, but nothing is cleared
        until it shows itself (`saw_other`), leaves (`left`) or a minute passes."""
        self._suspect, self._suspect_seen = other, self._clock()

    def saw_other(self, other: OtherGateway) -> bool:
        """A live `online` status from another gateway: say so once per instance; returns
        whether it is new (the feed then answers with its own status at once, so that the
        other learns of it without waiting for its next one)."""
        self._other, self._other_seen = other, self._clock()
        if other.instance in self._announced:
            return False
        self._announced.add(other.instance)
        log.error(
            "alarm feed: another gateway publishes as this site on %s/: %s%s; this one is "
            "instance %s on host %s. Not repairing or clearing anything on the feed while "
            "both publish, so that neither erases the other's alarms; give each building its "
            "own site id (README, 'One site id per building')",
            self.root,
            other.describe(),
            f", started {_clock(other.started_at)}" if other.started_at else "",
            self.instance,
            self.host,
        )
        return True

    def gone(self) -> bool:
        """Whether the other gateway (or the one suspected) has just gone: shut down, or
        silent for a minute. Says so once and forgets it; the feed then repairs again."""
        other, suspect = self._other, self._suspect
        if (other is None and suspect is None) or self.holding:
            return False
        self._other = self._suspect = None
        if other is not None:
            self._announced.discard(other.instance)
            log.info(
                "alarm feed: the other gateway of %s/ (%s) is gone; repairing the feed again",
                self.root,
                other.describe(),
            )
        return True

    def left(self, other: OtherGateway) -> None:
        """Its status says it went offline: gone now, not in a minute."""
        if self._other is not None and self._other.instance == other.instance:
            self._other_seen = float("-inf")
        if self._suspect is not None and self._suspect.instance == other.instance:
            self._suspect_seen = float("-inf")

    def repair(self, topic: str, why: str, action: str) -> bool:
        """Whether to repair `topic` now; counts and logs it. False while another gateway
        publishes, and once the topic was repaired `REPAIRS_PER_MINUTE` times in a minute."""
        if self.holding:
            return False
        now = self._clock()
        recent = self._repaired.setdefault(topic, deque())
        while recent and now - recent[0] > 60.0:
            recent.popleft()
        if len(recent) >= REPAIRS_PER_MINUTE:
            if self._given_up.due(topic):
                log.warning(
                    "alarm feed: %s keeps being changed by another client; repairing it at "
                    "most %d times a minute",
                    topic,
                    REPAIRS_PER_MINUTE,
                )
            return False
        recent.append(now)
        self.repairs += 1
        if self._repair_log.due(topic):
            log.warning(
                "alarm feed: %s on %s; %s (%d repairs of the feed so far)",
                why,
                topic,
                action,
                self.repairs,
            )
        return True


def _clock(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ns / 1e9))
