"""The feed watches its own retained topics for the whole session, against a real Mosquitto:
spoofed or emptied alarm states and a spoofed status are repaired, its own echoes are not
taken for foreign, another gateway publishing as the site is named and never fought."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.alarms import FeedTopics
from gateway.alarms.guard import REPAIRS_PER_MINUTE
from rules import Alarm
from tests.gateway.alarms.test_feed import rules_engine, running_feed, status
from tests.mqtt_watch import Watcher, publish_raw, retained, unique_topics
from tests.servers import MosquittoServer
from tests.sites import eventually

OURS = ("SD-0", "SD-1", "SD-2")


def ours(alarm_id: str) -> bool:
    return alarm_id.partition(":")[2] in OURS


def fake_alarm(alarm_id: str, **fields: Any) -> bytes:
    rule, _, device = alarm_id.partition(":")
    return json.dumps(
        {"id": alarm_id, "rule": rule, "device": device, "class": "fire", "state": "unacknowledged"}
        | fields
    ).encode()


async def gone(server: MosquittoServer, topics: FeedTopics, topic: str) -> bool:
    return topic not in await retained(server, topics)


async def test_a_fake_retained_fire_alarm_published_while_running_is_cleared(
    mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    topics = unique_topics()
    caplog.set_level(logging.WARNING, logger="gateway.alarms.guard")
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics, ours=ours) as feed,
    ):
        feed.start()
        await watcher.status("online")
        fake = topics.alarm("fire:SD-1")
        await publish_raw(mosquitto, fake, fake_alarm("fire:SD-1"), retain=True)
        await eventually(lambda: gone(mosquitto, topics, fake), what="the fake alarm cleared")
        assert feed.stats.repairs == 1
    assert caplog.messages == [
        "alarm feed: a retained alarm this gateway does not have (fire:SD-1) is on the broker "
        f"on {fake}; cleared it (1 repairs of the feed so far)"
    ]


async def test_an_emptied_or_changed_alarm_state_is_published_again(
    mosquitto: MosquittoServer,
) -> None:
    topics, engine = unique_topics(), rules_engine()
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics, ours=ours) as feed,
    ):
        feed.start()
        feed.publish(status(engine, "SD-0", "fire"))
        await watcher.event("fire:SD-0", "raised")
        real = topics.alarm("fire:SD-0")
        original = (await retained(mosquitto, topics))[real]
        await publish_raw(mosquitto, real, b"", retain=True)  # someone deletes the fire

        async def restored() -> bool:
            return (await retained(mosquitto, topics)).get(real) == original

        await eventually(restored, what="the fire alarm published again")
        acknowledged = fake_alarm("fire:SD-0", state="acknowledged", acknowledged_by="nobody")
        await publish_raw(mosquitto, real, acknowledged, retain=True)
        await eventually(restored, what="the fake acknowledgement undone")
        assert feed.stats.repairs == 2


async def test_a_spoofed_status_is_published_again(mosquitto: MosquittoServer) -> None:
    topics = unique_topics()
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics) as feed,
    ):
        feed.start()
        await watcher.status("online")
        spoof = {"state": "offline", "site": "demo", "reason": "maintenance"}
        await publish_raw(mosquitto, topics.status, json.dumps(spoof).encode(), retain=True)

        async def ours_again() -> bool:
            document = (await retained(mosquitto, topics))[topics.status]
            return bool(document["state"] == "online" and document["instance"] == feed.instance)

        await eventually(ours_again, what="the gateway's own status again")
        assert feed.stats.repairs == 1


async def test_its_own_messages_are_never_taken_for_foreign(mosquitto: MosquittoServer) -> None:
    topics, engine = unique_topics(), rules_engine()
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics) as feed,
    ):
        feed.start()
        for _ in range(10):
            feed.publish(status(engine, "SD-0", "pre_alarm"))
            feed.publish(status(engine, "SD-1", "fire"))
            feed.publish(status(engine, "SD-0", "normal"))
            feed.update_status({"n": 1})
            feed.publish(status(engine, "SD-1", "normal"))
        await eventually(lambda: len(watcher.events()) >= 21, what="every event")
        await asyncio.sleep(0.5)
        assert feed.stats.repairs == 0


async def test_a_topic_that_keeps_being_changed_is_repaired_a_few_times_a_minute(
    mosquitto: MosquittoServer,
) -> None:
    """Two publishers that undo each other must not loop at the speed of the network."""
    topics, engine = unique_topics(), rules_engine()
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics) as feed,
    ):
        feed.start()
        feed.publish(status(engine, "SD-0", "fire"))
        await watcher.event("fire:SD-0", "raised")
        for n in range(3 * REPAIRS_PER_MINUTE):
            payload = fake_alarm("fire:SD-0", state="acknowledged", acknowledged_by=f"x{n}")
            await publish_raw(mosquitto, topics.alarm("fire:SD-0"), payload, retain=True)
        await asyncio.sleep(1.0)
        assert feed.stats.repairs == REPAIRS_PER_MINUTE


async def test_another_gateway_of_the_site_is_named_and_its_alarms_are_left_alone(
    mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    topics, engine = unique_topics(), rules_engine()
    caplog.set_level(logging.WARNING)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics, ours=ours) as feed,
    ):
        feed.start()
        feed.publish(status(engine, "SD-0", "fire"))
        await watcher.event("fire:SD-0", "raised")
        other = {
            "state": "online",
            "site": "demo",
            "at": 1,
            "instance": "0ther001",
            "host": "pi-west",
            "client_id": "firegw-demo-alarms-0ther001",
        }
        await publish_raw(mosquitto, topics.status, json.dumps(other).encode(), retain=True)
        await eventually(lambda: feed.other_gateway is not None, what="the other gateway seen")
        # Its alarms: one of a device this gateway does not have, one of its own device.
        theirs, same = topics.alarm("fire:SD-9F-01"), topics.alarm("fire:SD-1")
        await publish_raw(mosquitto, theirs, fake_alarm("fire:SD-9F-01"), retain=True)
        await publish_raw(mosquitto, same, fake_alarm("fire:SD-1"), retain=True)
        await asyncio.sleep(1.0)
        found = await retained(mosquitto, topics)
        assert {theirs, same, topics.alarm("fire:SD-0")} <= set(found)
        assert feed.stats.repairs == 0
        assert feed.other_gateway is not None
        assert feed.other_gateway.describe() == (
            "instance 0ther001 on host pi-west, client id firegw-demo-alarms-0ther001"
        )
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"alarm feed: another gateway publishes as this site on {topics.root}/: instance "
        "0ther001 on host pi-west, client id firegw-demo-alarms-0ther001; this one is instance "
        f"{feed.instance} on host {feed.host}. Not repairing or clearing anything on the feed "
        "while both publish, so that neither erases the other's alarms; give each building its "
        "own site id (README, 'One site id per building')"
    ]


async def test_a_retained_alarm_of_a_device_it_does_not_have_is_left_on_connecting(
    mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    topics = unique_topics()
    theirs, ghost = topics.alarm("fire:SD-9F-01"), topics.alarm("pre_alarm:SD-2")
    await publish_raw(mosquitto, theirs, fake_alarm("fire:SD-9F-01"), retain=True)
    await publish_raw(mosquitto, ghost, fake_alarm("pre_alarm:SD-2"), retain=True)
    caplog.set_level(logging.WARNING, logger="gateway.alarms.feed")
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics, ours=ours) as feed,
    ):
        feed.start()
        await watcher.wait_for(lambda m: m.topic == ghost and m.payload == b"")
        found = await retained(mosquitto, topics)
    assert theirs in found
    assert ghost not in found
    assert feed.stats.foreign_alarms == 1
    assert [r.getMessage() for r in caplog.records if r.name == "gateway.alarms.feed"] == [
        f"alarm feed: {theirs} names a device or zone this gateway does not have; leaving it "
        "on the feed (another gateway with site id demo may have raised it)"
    ]


async def test_a_store_that_lost_its_alarms_takes_them_back_from_the_broker(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    topics, engine = unique_topics(), rules_engine()
    status(engine, "SD-1", "fire")
    fire = engine.alarms["fire:SD-1"]
    await publish_raw(
        mosquitto, topics.alarm(fire.id), json.dumps(fire.to_dict()).encode(), retain=True
    )
    await publish_raw(mosquitto, topics.alarm("fire:SD-9F-01"), fake_alarm("x"), retain=True)
    offered: list[Alarm] = []

    async def take_back(alarms: Any) -> list[Alarm]:
        offered.extend(alarms)
        return list(alarms)

    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics, ours=ours) as feed,
    ):
        feed.start(take_back=take_back)
        await watcher.status("online")
        await eventually(lambda: bool(offered), what="the broker's alarms offered")
        await asyncio.sleep(0.5)
        found = await retained(mosquitto, topics)
    assert offered == [fire]
    assert found[topics.alarm(fire.id)]["state"] == "unacknowledged"
    assert feed.stats.repairs == 0
