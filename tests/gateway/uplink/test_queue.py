"""The uplink's queue on disk: fire first, a sequence number kept across restarts, a message
gone only once delivered, and a damaged file replaced by a fresh one."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from core import Reading
from gateway.config import Transition
from gateway.uplink.messages import Message
from gateway.uplink.queue import LAST_SEQUENCE, Mark, UplinkQueue
from gateway.uplink.reporting import Told
from rules import AlarmEvent, DeviceInfo, DeviceKind, RuleEngine
from rules.clock import FakeClock
from tests.gateway.uplink.test_frames import FIRE

TROUBLE = replace(FIRE, alarm_id="detector_fault:SD-2", sia="FT", contact_id="E373", rank=3)


def events() -> list[tuple[int, AlarmEvent]]:
    engine = RuleEngine(
        [DeviceInfo("SD-1", DeviceKind.SMOKE_DETECTOR, "er", "opd", 1e6)], clock=FakeClock()
    )
    found = engine.on_readings([Reading("SD-1", "status", "fire")])
    return [(10 + index, event) for index, event in enumerate(found)]


Decide = Callable[[AlarmEvent, Told | None], tuple[Message | None, Told | None]]


def sends(message: Message) -> Decide:
    def decide(event: AlarmEvent, told: Told | None) -> tuple[Message | None, Told | None]:
        return message, Told.ACTIVE

    return decide


async def test_fire_goes_first_and_keeps_its_number_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "uplink.sqlite"
    async with UplinkQueue(path) as queue:
        assert not queue.started
        await queue.begin(Mark(0), [(TROUBLE, Told.ACTIVE)])
        assert queue.started
        taken = events()
        assert await queue.take(taken, sends(FIRE)) == 1
        assert await queue.mark() == Mark.of(*taken[-1])
        first = await queue.next()
        assert first is not None
        assert (first.message, first.sequence, first.retransmission) == (FIRE, 1, False)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    async with UplinkQueue(path) as queue:  # a restart before the ACK: the same number
        assert queue.started
        again = await queue.next()
        assert again is not None
        assert (again.message, again.sequence, again.retransmission) == (FIRE, 1, True)
        await queue.delivered(again)
        trouble = await queue.next()
        assert trouble is not None
        assert (trouble.message, trouble.sequence) == (TROUBLE, 2)
        waiting, oldest, aside = await queue.backlog()
        assert (waiting, aside) == (1, 0)
        assert oldest is not None
        await queue.set_aside(trouble, "the receiver does not understand it (DUH)")
        assert await queue.next() is None
        assert await queue.set_aside_messages() == [
            (TROUBLE, "the receiver does not understand it (DUH)")
        ]
        assert await queue.backlog() == (0, None, 1)


async def test_what_the_centre_was_told_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "uplink.sqlite"
    seen: list[Told | None] = []

    def decide(event: AlarmEvent, told: Told | None) -> tuple[Message | None, Told | None]:
        seen.append(told)
        return None, Told.RESTORED

    async with UplinkQueue(path) as queue:
        await queue.begin(Mark(0), [(replace(FIRE, alarm_id="fire:SD-1"), Told.ACTIVE)])
    async with UplinkQueue(path) as queue:
        await queue.take(events()[:1], decide)
        await queue.take(events()[:1], decide)
    assert seen == [Told.ACTIVE, Told.RESTORED]


async def test_sequence_numbers_go_round_after_9999(tmp_path: Path) -> None:
    async with UplinkQueue(tmp_path / "uplink.sqlite") as queue:
        await queue.begin(Mark(0), [])
        numbers = [await queue.link_test_sequence("1234") for _ in range(LAST_SEQUENCE + 2)]
        assert numbers[:2] == [1, 2]
        assert numbers[-3:] == [LAST_SEQUENCE, 1, 2]
        assert await queue.link_test_sequence("1235") == 1  # each account its own


async def test_a_damaged_file_is_replaced_by_a_fresh_one(tmp_path: Path) -> None:
    path = tmp_path / "uplink.sqlite"
    async with UplinkQueue(path) as queue:
        await queue.begin(Mark(0), [(FIRE, Told.ACTIVE)])
    path.write_bytes(b"this is not a database" * 100)
    async with UplinkQueue(path) as queue:
        assert not queue.started  # the uplink begins it again from the alarm store
        assert await queue.next() is None
        assert queue.replacements[0].lost == (
            "the messages waiting for the receiver's acknowledgement"
        )
        kept = queue.replacements[0].kept_as
    assert kept is not None
    assert kept.name.startswith("uplink.sqlite.corrupt-")


async def test_a_message_reads_back_as_it_was_queued() -> None:
    restored = replace(FIRE, transition=Transition.RESTORED)
    assert Message.from_json(restored.to_json()) == restored
