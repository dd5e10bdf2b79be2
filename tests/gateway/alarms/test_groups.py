"""The feed's incidents: each group of alarms has a retained summary on the broker (how many,
how many need a person, the worst priority, the oldest wait), kept up to date as its alarms
change, acknowledged with one command, cleared when its last alarm is gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.reading import Reading
from gateway.alarms import FeedTopics
from gateway.alarms.groups import GroupBoard, group_document
from gateway.config import Site
from rules import RuleEngine, RuleSet
from rules.clock import FakeClock
from rules.model import DeviceInfo, DeviceKind
from tests.gateway.alarms.test_service import private_site, running_service
from tests.mqtt_watch import Received, Watcher, publish_raw, retained
from tests.servers import MosquittoServer
from tests.sites import eventually

DETECTORS = [
    DeviceInfo("panel", DeviceKind.LINK, "", "main"),
    *(
        DeviceInfo(f"SD-{n}", DeviceKind.SMOKE_DETECTOR, "ward-3", "main", 3.0, link="panel")
        for n in range(1, 4)
    ),
]


def test_a_confirmed_fire_and_its_detectors_are_one_summary() -> None:
    engine = RuleEngine(DETECTORS, RuleSet(), FakeClock())
    board = GroupBoard()
    events = engine.on_readings(
        [Reading("SD-1", "status", "fire"), Reading("SD-2", "status", "fire")]
    )
    assert board.update(e.alarm for e in events) == {"fire@ward-3"}
    summary = board.document("fire@ward-3", "st-lukes", 1)
    assert summary is not None
    assert {k: summary[k] for k in ("alarms", "needs_person", "unacknowledged", "held")} == {
        "alarms": 3,
        "needs_person": 3,
        "unacknowledged": 3,
        "held": 0,
    }
    assert (summary["class"], summary["zone"], summary["worst_priority"]) == (
        "fire",
        "ward-3",
        "critical",
    )
    assert summary["alarm_ids"][0] == "confirmed_fire:ward-3"  # the most urgent first
    assert summary["oldest_unacknowledged_at"] == min(e.alarm.raised_at for e in events)


def test_consequences_count_in_their_causes_group_while_held() -> None:
    clock = FakeClock()
    engine = RuleEngine(DETECTORS, RuleSet(), clock)
    board = GroupBoard()
    engine.on_readings([Reading(f"SD-{n}", "status", "normal") for n in range(1, 4)])
    engine.on_readings([Reading("panel", "up", False)])
    clock.advance(30)
    board.update(e.alarm for e in engine.tick())
    (group,) = board.members
    summary = group_document(group, board.members[group].values(), "st-lukes", 1)
    assert group == "trouble@panel"
    assert (summary["alarms"], summary["held"], summary["needs_person"]) == (4, 3, 1)
    assert (summary["zone"], summary["unacknowledged"]) == (None, 1)  # detectors in ward-3


def summaries(watcher: Watcher, topics: FeedTopics, group: str) -> list[Received]:
    return [m for m in watcher.messages if m.topic == topics.group(group)]


async def test_the_broker_holds_each_groups_summary_and_one_command_acknowledges_it(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    site: Site = private_site(tmp_path, mosquitto)
    topics = FeedTopics.for_site(site)
    group = "fire@main-1f-er"
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        await running.status("SD-1F-02", "fire")

        def summary_where(**wanted: Any) -> Any:
            def holds() -> bool:
                found = summaries(watcher, topics, group)
                document = found[-1].json if found and found[-1].payload else {}
                return all(document.get(k) == v for k, v in wanted.items())

            return eventually(holds, what=f"the summary of {group} with {wanted}")

        await summary_where(alarms=3, needs_person=3, worst_priority="critical")
        first = (await retained(mosquitto, topics))[topics.group(group)]
        await running.command(action="acknowledge", alarm=group, by="bo", request_id="all")
        reply = await watcher.reply("all")
        await summary_where(alarms=3, needs_person=3, unacknowledged=0)  # reset still to do
        await running.status("SD-1F-01", "normal")
        await running.status("SD-1F-02", "normal")
        for alarm_id in ("fire:SD-1F-01", "fire:SD-1F-02", "confirmed_fire:main-1f-er"):
            await running.command(action="reset", alarm=alarm_id, by="al", request_id=alarm_id)
            assert (await watcher.reply(alarm_id))["ok"] is True
        await watcher.wait_for(lambda m: m.topic == topics.group(group) and m.payload == b"")
        after = await retained(mosquitto, topics)
    assert reply["ok"] is True
    assert sorted(e["alarm_id"] for e in reply["events"]) == [  # the events name every alarm
        "confirmed_fire:main-1f-er",
        "fire:SD-1F-01",
        "fire:SD-1F-02",
    ]
    assert first["site"] == site.config.site.id
    assert first["zone"] == first["where"] == "main-1f-er"
    assert first["oldest_unacknowledged_at"] is not None
    assert topics.group(group) not in after
    # the summary went out after the events, once per change, not once per alarm
    assert len(summaries(watcher, topics, group)) <= 8


async def test_a_summary_left_from_before_is_cleared_and_a_changed_one_repaired(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    site = private_site(tmp_path, mosquitto)
    topics = FeedTopics.for_site(site)
    ghost = json.dumps({"group": "security@main-2f-ward", "alarms": 4}).encode()
    await publish_raw(mosquitto, topics.group("security@main-2f-ward"), ghost, retain=True)
    foreign = topics.group("fire@another-building")
    await publish_raw(mosquitto, foreign, b'{"alarms": 1}', retain=True)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await watcher.wait_for(
            lambda m: m.topic == topics.group("security@main-2f-ward") and m.payload == b""
        )
        await running.status("SD-1F-01", "fire")
        own = topics.group("fire@main-1f-er")
        await watcher.wait_for(lambda m: m.topic == own and bool(m.payload))
        await publish_raw(mosquitto, own, b'{"alarms": 0}', retain=True)  # spoofed
        await eventually(
            lambda: (
                bool(summaries(watcher, topics, "fire@main-1f-er"))
                and summaries(watcher, topics, "fire@main-1f-er")[-1].json.get("alarms") == 1
            ),
            what="the spoofed summary repaired",
        )
        after = await retained(mosquitto, topics)
    assert after[own]["alarms"] == 1
    assert after[foreign] == {"alarms": 1}  # another gateway's, left alone
