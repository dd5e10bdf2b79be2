"""What the alarm feed has yet to publish, most urgent first.

Two kinds of work wait here. Events and command replies wait in a priority queue keyed by the
alarm's priority, then its class (fire before supervisory before trouble), then arrival: so a
fire is never stuck behind 40 camera alarms (GB 26875.1), and within one priority everything
goes out first in, first out; the events of one alarm therefore keep their order. Beside it,
the newest state of every alarm whose retained message is out of date: a state is published
just before the alarm's next event, and only the newest one, so the retained topic never goes
back in time, even after a reconnect or when events had to be dropped. Last, the summaries of
the groups (incidents) whose alarms changed: each once, however many of its alarms did.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gateway.alarms.groups import GroupBoard
from gateway.alarms.payloads import Document, is_gone
from rules import Alarm, AlarmClass, AlarmEvent, Priority

log = logging.getLogger(__name__)

Order = tuple[int, int]
LAST: Order = (len(Priority), len(AlarmClass))
"""The order of work about no alarm (a refused command's reply): after every alarm."""


def urgency(alarm: Alarm | None) -> Order:
    """Publication order of an alarm's state: priority, then class; unknown alarms last."""
    if alarm is None:
        return LAST
    return (alarm.priority.rank, alarm.alarm_class.rank)


@dataclass(order=True, slots=True)
class Outgoing:
    """One event or one command reply, in publication order (`order`, then `seq`)."""

    order: Order
    seq: int
    event: AlarmEvent | None = field(default=None, compare=False)
    reply: Document | None = field(default=None, compare=False)
    received_at: float | None = field(default=None, compare=False)
    """Monotonic time the reading that raised the alarm arrived, for the latency figures."""


class PublishQueue:
    """Events, replies and out-of-date alarm states, with a bound on the events kept.

    `current` holds every alarm that is not gone, as last seen; `stale` holds the alarms whose
    retained message must be (re)published, with the state to publish (None: clear a retained
    message of an alarm the gateway does not know). When more than `max_events` events wait
    (a long broker outage in an alarm flood), the least urgent, newest ones are dropped: the
    store keeps every event and the retained states stay right, so what is lost is only a
    part of the live event stream, and that is logged.
    """

    def __init__(self, max_events: int = 10_000) -> None:
        if max_events < 1:
            raise ValueError(f"alarm feed: max_events must be at least 1, got {max_events!r}")
        self.max_events = max_events
        self.current: dict[str, Alarm] = {}
        self.stale: dict[str, Alarm | None] = {}
        self.groups = GroupBoard()
        self.stale_groups: set[str] = set()
        """Groups whose summary must be (re)published (or cleared, once they are empty)."""
        self.dropped = 0
        self._heap: list[Outgoing] = []
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        self._dropping = False

    def __len__(self) -> int:
        """Events and replies waiting (states not counted)."""
        return len(self._heap)

    @property
    def empty(self) -> bool:
        return not self._heap and not self.stale and not self.stale_groups

    def start_from(self, alarms: Iterable[Alarm]) -> None:
        """Take the alarms that exist when publishing starts (restored after a restart)."""
        for alarm in alarms:
            self._remember(alarm)
        self.wake()

    def add_events(self, events: Sequence[AlarmEvent], received_at: float | None = None) -> None:
        for event in events:
            self._remember(event.alarm)
            self._push(Outgoing(event.order, next(self._seq), event, None, received_at))
        self.wake()

    def add_reply(self, document: Document, order: Order = LAST) -> None:
        self._push(Outgoing(order, next(self._seq), None, document))
        self.wake()

    def knows(self, alarm_id: str) -> bool:
        """Whether the alarm exists, or its retained message is about to be published."""
        return alarm_id in self.current or alarm_id in self.stale

    def clear_unknown(self, alarm_id: str) -> None:
        """A retained message on the broker for an alarm the gateway does not know: clear it."""
        if not self.knows(alarm_id):
            self.stale[alarm_id] = None
            self.wake()

    def republish(self, alarm_id: str) -> None:
        """Someone else changed the retained state of an existing alarm: publish it again."""
        alarm = self.current.get(alarm_id)
        if alarm is not None:
            self.stale.setdefault(alarm_id, alarm)
            self.wake()

    def resync(self) -> list[str]:
        """After a (re)connect every alarm's state and every group's summary is out of date;
        the alarms' ids, most urgent first (the summaries follow them)."""
        self.stale.update(self.current)
        self.stale_groups.update(self.groups.members)
        return sorted(self.stale, key=lambda alarm_id: urgency(self.stale[alarm_id]))

    def clear_unknown_group(self, group: str) -> None:
        """A retained summary of a group the gateway does not have: clear it."""
        if group not in self.groups.members:
            self.stale_groups.add(group)
            self.wake()

    def republish_group(self, group: str) -> None:
        """Someone else changed a group's retained summary: publish it again."""
        if group in self.groups.members:
            self.stale_groups.add(group)
            self.wake()

    def most_urgent_group(self) -> str:
        """The out-of-date summary to publish next (worst priority first); only called when
        there is one."""
        group = min(self.stale_groups, key=self._group_order)
        self.stale_groups.discard(group)
        return group

    def _group_order(self, group: str) -> tuple[Order, str]:
        members = self.groups.members.get(group)
        return (min(map(urgency, members.values())) if members else LAST), group

    @property
    def fire_next(self) -> bool:
        """Whether the most urgent waiting event is of a fire alarm."""
        head = self._heap[0].event if self._heap else None
        return head is not None and head.alarm.alarm_class is AlarmClass.FIRE

    def pop(self) -> Outgoing | None:
        """The most urgent event or reply, or None."""
        item = heapq.heappop(self._heap) if self._heap else None
        if not self._heap and self._dropping:
            self._dropping = False
            log.warning("alarm feed: caught up; %d events were dropped in all", self.dropped)
        return item

    def push_back(self, item: Outgoing) -> None:
        """Return an item that could not be published; it keeps its place in the order."""
        heapq.heappush(self._heap, item)

    def take_state(self, alarm_id: str) -> tuple[bool, Alarm | None]:
        """(True, state) if the alarm's retained message is out of date, else (False, None)."""
        if alarm_id not in self.stale:
            return False, None
        return True, self.stale.pop(alarm_id)

    def most_urgent_state(self) -> tuple[str, Alarm | None]:
        """The out-of-date state to publish next; only called when there is one."""
        alarm_id = min(self.stale, key=lambda key: urgency(self.stale[key]))
        return alarm_id, self.stale.pop(alarm_id)

    def keep_state(self, alarm_id: str, alarm: Alarm | None) -> None:
        """A state that could not be published is out of date again, unless a newer one is."""
        self.stale.setdefault(alarm_id, alarm)

    def wake(self) -> None:
        """Let `wait` return (new work, or the feed is closing)."""
        self._ready.set()

    async def wait(self) -> None:
        """Wait for new work or a `wake`; the caller checks what there is."""
        self._ready.clear()
        await self._ready.wait()

    def _remember(self, alarm: Alarm) -> None:
        if is_gone(alarm):
            self.current.pop(alarm.id, None)
        else:
            self.current[alarm.id] = alarm
        self.stale[alarm.id] = alarm
        self.stale_groups |= self.groups.update((alarm,))

    def _push(self, item: Outgoing) -> None:
        if len(self._heap) < self.max_events:
            heapq.heappush(self._heap, item)
            return
        worst = max(self._heap)
        if item < worst:
            self._heap.remove(worst)
            heapq.heapify(self._heap)
            heapq.heappush(self._heap, item)
        self.dropped += 1
        if not self._dropping:
            self._dropping = True
            log.warning(
                "alarm feed: more than %d events waiting; dropping the least urgent "
                "(they are in the alarm store)",
                self.max_events,
            )
