"""The alarm store: current alarms and the event history survive a restart; gone alarms go."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest

from core.reading import Reading, Value
from gateway.alarms import AlarmStore
from gateway.alarms.store import AlarmStoreClosedError
from rules import AlarmEvent, AlarmState, DeviceInfo, DeviceKind, RuleEngine
from rules.clock import FakeClock
from tests.disk import SmallDisk
from tests.sites import eventually

DEVICES = [
    DeviceInfo("SD-1", DeviceKind.SMOKE_DETECTOR, "er", "opd", 1000.0),
    DeviceInfo("SD-2", DeviceKind.SMOKE_DETECTOR, "ward", "opd", 1000.0),
    DeviceInfo("CAM-1", DeviceKind.CAMERA, "er", "opd", 1000.0),
]


def engine() -> RuleEngine:
    return RuleEngine(DEVICES, clock=FakeClock())


def status(rules: RuleEngine, device: str, value: Value) -> list[AlarmEvent]:
    return rules.on_readings([Reading(device, "status", value)])


async def test_record_then_load_gives_the_alarms_back(tmp_path: Path) -> None:
    rules = engine()
    async with AlarmStore(tmp_path / "alarms.sqlite") as store:
        await store.record(status(rules, "SD-1", "fire"))
        await store.record(status(rules, "SD-2", "pre_alarm"))
        loaded = {alarm.id: alarm for alarm in await store.load()}
    assert loaded == dict(rules.alarms)
    assert loaded["fire:SD-1"].state is AlarmState.UNACKNOWLEDGED


async def test_alarms_and_history_survive_a_restart(tmp_path: Path) -> None:
    rules, path = engine(), tmp_path / "alarms.sqlite"
    async with AlarmStore(path) as store:
        await store.record(status(rules, "SD-1", "fire"))
        await store.record(rules.command("acknowledge", "fire:SD-1", by="alice").events)
    async with AlarmStore(path) as store:
        (alarm,) = await store.load()
        history = await store.history()
    assert (alarm.id, alarm.state, alarm.acknowledged_by) == (
        "fire:SD-1",
        AlarmState.ACKNOWLEDGED,
        "alice",
    )
    assert [(e.alarm_id, str(e.kind), e.by) for e in history] == [
        ("fire:SD-1", "raised", None),
        ("fire:SD-1", "acknowledged", "alice"),
    ]
    assert history[1].alarm == alarm


async def test_a_cleared_alarm_is_gone_but_its_history_stays(tmp_path: Path) -> None:
    rules = engine()
    async with AlarmStore(tmp_path / "alarms.sqlite") as store:
        await store.record(status(rules, "SD-2", "pre_alarm"))
        await store.record(rules.command("acknowledge", "pre_alarm:SD-2", by="bob").events)
        await store.record(status(rules, "SD-2", "normal"))
        assert await store.load() == []
        kinds = [str(e.kind) for e in await store.history("pre_alarm:SD-2")]
    assert kinds == ["raised", "acknowledged", "cleared"]


async def test_a_returned_alarm_stays_until_acknowledged(tmp_path: Path) -> None:
    rules = engine()
    async with AlarmStore(tmp_path / "alarms.sqlite") as store:
        await store.record(status(rules, "SD-2", "pre_alarm"))
        await store.record(status(rules, "SD-2", "normal"))
        (alarm,) = await store.load()
        assert alarm.state is AlarmState.RETURNED_UNACKNOWLEDGED
        await store.record(rules.command("acknowledge", "pre_alarm:SD-2", by="bob").events)
        assert await store.load() == []


async def test_a_latched_fire_stays_until_reset(tmp_path: Path) -> None:
    rules = engine()
    async with AlarmStore(tmp_path / "alarms.sqlite") as store:
        await store.record(status(rules, "SD-1", "fire"))
        await store.record(status(rules, "SD-1", "normal"))
        assert [a.id for a in await store.load()] == ["fire:SD-1"]
        await store.record(rules.command("reset", "fire:SD-1", by="carol").events)
        assert await store.load() == []


async def test_an_alarm_out_of_service_is_kept_though_normal(tmp_path: Path) -> None:
    """Restore must know the detector is under maintenance, or it would count again."""
    rules = engine()
    async with AlarmStore(tmp_path / "alarms.sqlite") as store:
        await store.record(rules.command("out_of_service", "fire:SD-1", by="dave").events)
        stored = {alarm.id: alarm for alarm in await store.load()}
    alarm = stored["fire:SD-1"]
    assert (alarm.state, alarm.out_of_service) == (AlarmState.NORMAL, True)
    assert stored["out_of_service:fire:SD-1"].active  # the disablement, visible on the feed
    fresh = engine()
    assert fresh.restore(stored.values()) == []
    assert fresh.alarms["fire:SD-1"].out_of_service
    assert fresh.alarms["out_of_service:fire:SD-1"].active


async def test_history_is_newest_first_limited_and_returned_oldest_first(tmp_path: Path) -> None:
    rules = engine()
    async with AlarmStore(tmp_path / "alarms.sqlite") as store:
        for value in ("pre_alarm", "normal", "pre_alarm", "normal"):
            await store.record(status(rules, "SD-2", value))
        await store.record(status(rules, "SD-1", "fire"))
        last_two = await store.history(limit=2)
        of_sd2 = await store.history("pre_alarm:SD-2", limit=3)
    assert [(e.alarm_id, str(e.kind)) for e in last_two] == [
        ("pre_alarm:SD-2", "returned_to_normal"),
        ("fire:SD-1", "raised"),
    ]
    assert [str(e.kind) for e in of_sd2] == ["returned_to_normal", "raised", "returned_to_normal"]


async def test_the_history_keeps_the_newest_events_only(tmp_path: Path) -> None:
    rules = engine()
    async with AlarmStore(tmp_path / "alarms.sqlite", keep_events=4) as store:
        for value in ("pre_alarm", "normal") * 5:
            await store.record(status(rules, "SD-2", value))
        history = await store.history(limit=100)
    assert 4 <= len(history) < 10
    assert str(history[-1].kind) == "returned_to_normal"


async def test_an_unreadable_record_is_skipped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules, path = engine(), tmp_path / "alarms.sqlite"
    async with AlarmStore(path) as store:
        await store.record(status(rules, "SD-1", "fire"))
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO alarms VALUES ('broken:SD-9', '{\"id\": \"broken:SD-9\"}', 0)")
    caplog.set_level(logging.ERROR, logger="gateway.alarms.store")
    async with AlarmStore(path) as store:
        assert [a.id for a in await store.load()] == ["fire:SD-1"]
    assert [r.getMessage() for r in caplog.records] == [
        f"alarm store {path}: skipping unreadable alarm broken:SD-9: alarm record is missing "
        "rule, class, priority, state, building, zone, device, value, message, raised_at, "
        "observed_at"
    ]


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = AlarmStore(tmp_path / "alarms.sqlite")
    with pytest.raises(AlarmStoreClosedError, match="is not open"):
        await store.load()


def test_keep_events_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep_events must be at least 1, got 0"):
        AlarmStore(tmp_path / "alarms.sqlite", keep_events=0)


# A damaged, lost or full store (real files, a real small filesystem).


async def test_a_garbage_store_is_moved_aside_and_a_fresh_one_needs_the_brokers_alarms(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "alarms.sqlite"
    path.write_bytes(os.urandom(8192))
    caplog.set_level(logging.ERROR)
    async with AlarmStore(path) as store:
        assert await store.load() == []
        assert store.needs_broker_alarms
        (replacement,) = store.replacements
    assert replacement.kept_as is not None
    assert replacement.kept_as.name.startswith("alarms.sqlite.corrupt-")
    assert [r.getMessage() for r in caplog.records] == [
        f"alarm store {path}: damaged (file is not a database); kept as {replacement.kept_as}; "
        "a fresh file takes its place (its alarms and event history (the broker's retained "
        "alarms are taken back) are lost with it)"
    ]


async def test_a_fresh_store_is_complete_once_the_alarms_are_taken_back(tmp_path: Path) -> None:
    rules, path = engine(), tmp_path / "alarms.sqlite"
    status(rules, "SD-1", "fire")
    async with AlarmStore(path) as store:
        assert store.needs_broker_alarms  # new: it cannot know the alarms of before
        store.keep_current(lambda: list(rules.alarms.values()))
        assert await store.taken_back(rules.alarms.values(), taken=1)
        assert not store.needs_broker_alarms
        assert store.replacements[0].reason == "empty or missing at start"
    async with AlarmStore(path) as store:
        assert not store.needs_broker_alarms
        assert [alarm.id for alarm in await store.load()] == ["fire:SD-1"]


async def test_a_store_deleted_while_open_gets_the_alarms_of_now(tmp_path: Path) -> None:
    rules, path = engine(), tmp_path / "alarms.sqlite"
    async with AlarmStore(path) as store:
        store.keep_current(lambda: list(rules.alarms.values()))
        await store.taken_back([])  # the broker had nothing: the new store is complete
        await store.record(status(rules, "SD-1", "fire"))
        await store.record(rules.command("acknowledge", "fire:SD-1", by="alice").events)
        path.unlink()
        replacement = await store.check()
        assert replacement is not None
        assert replacement.reason == "deleted while the gateway ran"
        await eventually(lambda: not store.needs_broker_alarms, what="the alarms written again")
    async with AlarmStore(path) as store:
        (alarm,) = await store.load()
        assert not store.needs_broker_alarms
    assert (alarm.id, alarm.state, alarm.acknowledged_by) == (
        "fire:SD-1",
        AlarmState.ACKNOWLEDGED,
        "alice",
    )


async def test_events_that_meet_a_full_disk_wait_and_are_written_when_space_returns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An acknowledgement made while the disk is full survives the restart after it."""
    caplog.set_level(logging.INFO, logger="gateway.alarms.store")
    rules = engine()
    with SmallDisk(tmp_path / "disk", size_mb=4) as disk:
        path = disk.path / "alarms.sqlite"
        async with AlarmStore(path, retry_initial=0.05, retry_cap=0.2) as store:
            assert await store.record(status(rules, "SD-1", "fire"))
            disk.fill()
            acknowledged = rules.command("acknowledge", "fire:SD-1", by="night nurse").events
            assert not await store.record(acknowledged)
            assert not await store.record(status(rules, "SD-2", "pre_alarm"))
            assert (store.waiting, store.full, store.failing) == (2, True, True)
            disk.free()
            await eventually(lambda: store.waiting == 0, what="the waiting events written")
            assert not store.failing
        async with AlarmStore(path) as store:
            alarms = {alarm.id: alarm for alarm in await store.load()}
            kinds = [(e.alarm_id, str(e.kind)) for e in await store.history()]
    assert alarms["fire:SD-1"].acknowledged_by == "night nurse"
    assert alarms["pre_alarm:SD-2"].state is AlarmState.UNACKNOWLEDGED
    assert kinds == [
        ("fire:SD-1", "raised"),
        ("fire:SD-1", "acknowledged"),
        ("pre_alarm:SD-2", "raised"),
    ]
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert messages == [
        f"alarm store {path}: database or disk is full (1 events waiting); alarms are published "
        "all the same; their events wait in memory and are written as soon as it works again"
    ]
    assert any(
        r.getMessage().startswith(
            f"alarm store {path}: storing again, the waiting events are written after"
        )
        for r in caplog.records
    )
