"""Every SQLite store has a schema version, and a file written by the previous layout is upgraded
at start with everything in it kept.

"The previous layout" is the one firegw 0.1.0 wrote, before versions were kept (version 0):
its tables are written out here as they were, filled, and opened by today's stores.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from gateway.alarms import AlarmStore
from gateway.health import RejectedPayloads, read_rejected
from gateway.outbox import Outbox
from gateway.sqlitefile import schema_version
from gateway.uplink.queue import _TABLES as UPLINK_QUEUE_0_1
from gateway.uplink.queue import Mark, UplinkQueue
from rules import Alarm, AlarmClass, AlarmState, Priority

CURRENT = 1
OUTBOX_CURRENT = 2
"""The outbox keeps its lines in compressed batches since version 2."""

OUTBOX_0_1 = """
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL);
CREATE TABLE dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT, outbox_id INTEGER NOT NULL, line TEXT NOT NULL,
    reason TEXT NOT NULL, set_aside_at_ns INTEGER NOT NULL, sink TEXT);
CREATE TABLE sink_position (sink TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
CREATE TABLE outbox_counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO outbox (line) VALUES ('hydrant_pressure,device=HP-1 pressure=0.41 1'),
                                 ('hydrant_pressure,device=HP-1 pressure=0.40 2');
INSERT INTO outbox_counter VALUES ('rows', 2), ('dropped', 7);
INSERT INTO sink_position VALUES ('influxdb', 1);
"""
"""The outbox of 0.1.0 (`dead_letter.sink` included)."""

OUTBOX_BEFORE_SINKS = """
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL);
CREATE TABLE dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT, outbox_id INTEGER NOT NULL, line TEXT NOT NULL,
    reason TEXT NOT NULL, set_aside_at_ns INTEGER NOT NULL);
INSERT INTO outbox (line) VALUES ('camera,device=CAM-1 online=true 1');
INSERT INTO dead_letter (outbox_id, line, reason, set_aside_at_ns) VALUES (9, 'x', 'bad', 1);
"""
"""An older outbox still: no sink names, no positions, no counters."""

ALARM_STORE_0_1 = """
CREATE TABLE alarms (id TEXT PRIMARY KEY, alarm TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, alarm_id TEXT NOT NULL, kind TEXT NOT NULL,
    at INTEGER NOT NULL, by TEXT, event TEXT NOT NULL);
CREATE INDEX events_by_alarm ON events (alarm_id, seq);
CREATE TABLE store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
"""The alarm store before the command audit was kept in it (no `commands` table)."""

REJECTED_0_1 = """
CREATE TABLE rejected (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL, device TEXT NOT NULL,
    topic TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL, size INTEGER NOT NULL);
CREATE INDEX rejected_by_device ON rejected (device, seq);
INSERT INTO rejected VALUES (1, 5, 'CAM-1', 'nvr/CAM-1/health', 'not JSON', x'7b', 1);
"""


def old_file(path: Path, script: str) -> Path:
    db = sqlite3.connect(path)
    db.executescript(script)
    db.close()
    assert schema_version(path) == 0
    return path


def a_latched_fire() -> Alarm:
    return Alarm(
        id="fire:SD-1F-01",
        rule="fire",
        alarm_class=AlarmClass.FIRE,
        priority=Priority.CRITICAL,
        state=AlarmState.ACKNOWLEDGED,
        building="main",
        zone="main-1f-er",
        device="SD-1F-01",
        value="fire",
        message="Smoke detector SD-1F-01 in fire",
        raised_at=1,
        observed_at=1,
        active=True,
        latched=True,
        acknowledged_by="wang.fang",
        acknowledged_at=2,
        updated_at=2,
    )


async def test_an_outbox_of_the_previous_layout_keeps_its_lines_and_positions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = old_file(tmp_path / "outbox.sqlite", OUTBOX_0_1)
    caplog.set_level(logging.INFO)
    async with Outbox(path) as outbox:
        assert await outbox.backlog() == 1  # the sink had taken the first line
        assert outbox.dropped == 7
        rows = await outbox.reader("influxdb").peek(10)
        assert [line for _, line in rows] == ["hydrant_pressure,device=HP-1 pressure=0.40 2"]
    assert schema_version(path) == OUTBOX_CURRENT
    assert f"outbox {path}: schema upgraded from version 0 to {OUTBOX_CURRENT}" in caplog.messages
    db = sqlite3.connect(path)  # the lines moved into batches, the row-per-line table is gone
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'outbox'").fetchone() is None
    db.close()


async def test_an_outbox_from_before_named_sinks_gets_the_column_and_the_tables(
    tmp_path: Path,
) -> None:
    path = old_file(tmp_path / "outbox.sqlite", OUTBOX_BEFORE_SINKS)
    async with Outbox(path) as outbox:
        assert await outbox.backlog() == 1
        assert await outbox.dead_letters() == 1
    db = sqlite3.connect(path)
    assert "sink" in {row[1] for row in db.execute("PRAGMA table_info(dead_letter)")}
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'sink_position'").fetchone()
    db.close()
    assert schema_version(path) == OUTBOX_CURRENT


async def test_an_alarm_store_of_the_previous_layout_keeps_its_alarms(tmp_path: Path) -> None:
    path = old_file(tmp_path / "alarms.sqlite", ALARM_STORE_0_1)
    fire = a_latched_fire()
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO alarms VALUES (?, ?, ?)", (fire.id, json.dumps(fire.to_dict()), 2))
    db.close()
    async with AlarmStore(path) as store:
        assert await store.load() == [fire]
        assert not store.needs_broker_alarms  # an old file is not a fresh one
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM commands").fetchone() == (0,)  # the table was added
    db.close()
    assert schema_version(path) == CURRENT


async def test_rejected_payloads_of_the_previous_layout_are_still_shown(tmp_path: Path) -> None:
    path = old_file(tmp_path / "outbox-rejected.sqlite", REJECTED_0_1)
    async with RejectedPayloads(path):
        pass
    assert [entry.reason for entry in read_rejected(path)] == ["not JSON"]
    assert schema_version(path) == CURRENT


async def test_an_uplink_queue_of_the_previous_layout_keeps_its_place(tmp_path: Path) -> None:
    """The queue to the alarm receiving centre came with a layout of its own before versions
    were kept: the same tables, version 0."""
    path = old_file(tmp_path / "uplink.sqlite", UPLINK_QUEUE_0_1)
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO mark VALUES (1, 42, 'fire:SD-1F-01', 7)")
    db.close()
    async with UplinkQueue(path) as queue:
        assert queue.started
        assert await queue.mark() == Mark(42, "fire:SD-1F-01", 7)
    assert schema_version(path) == CURRENT


async def test_a_fresh_store_is_made_at_the_current_version(tmp_path: Path) -> None:
    async with (
        Outbox(tmp_path / "o.sqlite"),
        AlarmStore(tmp_path / "a.sqlite"),
        RejectedPayloads(tmp_path / "r.sqlite"),
        UplinkQueue(tmp_path / "u.sqlite"),
    ):
        pass
    assert schema_version(tmp_path / "o.sqlite") == OUTBOX_CURRENT
    for name in ("a", "r", "u"):
        assert schema_version(tmp_path / f"{name}.sqlite") == CURRENT


async def test_a_store_of_a_newer_version_is_used_as_it_is_with_one_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An older firegw put back after an upgrade: it reads what it knows, and says so."""
    path = tmp_path / "outbox.sqlite"
    async with Outbox(path) as outbox:
        await outbox.append(
            ["camera,device=CAM-1 online=true 1", "camera,device=CAM-1 online=true 2"]
        )
        await outbox.reader("influxdb").advance(1)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    async with Outbox(path) as outbox:
        assert await outbox.backlog() == 1  # the sink had taken the first line
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"outbox {path} was written by a newer firegw (schema version 99; this one knows "
        f"{OUTBOX_CURRENT}): using it as it is (docs/upgrading.md says how to go back)"
    ]
    assert schema_version(path) == 99
