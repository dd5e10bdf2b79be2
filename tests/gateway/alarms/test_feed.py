"""The alarm feed against a real Mosquitto: retained states, events, status and last will,
commands and replies, fire first, and broker outages."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import pytest

from core.reading import Reading, Value
from drivers.mqtt import BrokerSpec
from gateway.alarms import AlarmFeed, FeedTopics
from gateway.alarms.commands import Command, CommandError, parse_command
from gateway.alarms.outgoing import PublishQueue
from rules import Action, AlarmEvent, CommandResult, DeviceInfo, DeviceKind, RuleEngine
from rules.clock import FakeClock
from tests.mqtt_watch import Watcher, publish_raw, retained, unique_topics
from tests.servers import MOSQUITTO, MosquittoServer, port_open, require_binary
from tests.sites import eventually

CAMERAS = [
    DeviceInfo(f"CAM-{n:02d}", DeviceKind.CAMERA, f"zone-{n:02d}", "opd", 1000.0) for n in range(40)
]
DETECTORS = [
    DeviceInfo(f"SD-{n}", DeviceKind.SMOKE_DETECTOR, f"ward-{n}", "ipd", 1000.0) for n in range(3)
]


@asynccontextmanager
async def running_feed(
    server_host: str, server_port: int, topics: FeedTopics, **options: Any
) -> AsyncIterator[AlarmFeed]:
    spec = BrokerSpec(server_host, server_port, client_id=f"feed-{uuid.uuid4().hex[:8]}")
    options.setdefault("reconnect_initial", 0.2)
    async with AlarmFeed(spec, topics, **options) as feed:
        yield feed


# Events from a real rules engine.


def rules_engine() -> RuleEngine:
    return RuleEngine(CAMERAS + DETECTORS, clock=FakeClock())


def status(engine: RuleEngine, device: str, value: Value) -> list[AlarmEvent]:
    return engine.on_readings([Reading(device, "status", value)])


def cameras_offline(engine: RuleEngine) -> list[AlarmEvent]:
    """40 camera-offline alarms and their 40 zones' blind spots, at once."""
    engine.on_readings([Reading(cam.id, "online", False) for cam in CAMERAS])
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    clock.advance(10.0)
    return engine.tick()


# The feed.


async def test_status_is_online_while_connected_and_offline_after_closing(
    mosquitto: MosquittoServer,
) -> None:
    topics = unique_topics()
    async with Watcher(mosquitto.host, mosquitto.port, topics) as watcher:
        async with running_feed(mosquitto.host, mosquitto.port, topics) as feed:
            feed.start()
            online = await watcher.status("online")
            assert (await retained(mosquitto, topics))[topics.status]["state"] == "online"
        offline = await watcher.status("offline")
    assert (online["site"], offline["reason"]) == ("demo", "shut down")
    assert (await retained(mosquitto, topics))[topics.status]["state"] == "offline"


async def test_nothing_is_published_before_start(mosquitto: MosquittoServer) -> None:
    """The feed waits for the restored alarms, so the broker never shows an empty feed first."""
    topics = unique_topics()
    async with running_feed(mosquitto.host, mosquitto.port, topics) as feed:
        feed.publish(status(rules_engine(), "SD-0", "fire"))
        await asyncio.sleep(0.3)
        assert not feed.connected
        assert await retained(mosquitto, topics) == {}


async def test_an_event_publishes_the_alarm_retained_and_the_event(
    mosquitto: MosquittoServer,
) -> None:
    topics, engine = unique_topics(), rules_engine()
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics) as feed,
    ):
        feed.start()
        feed.publish(status(engine, "SD-0", "pre_alarm"))
        event = await watcher.event("pre_alarm:SD-0", "raised")
        state = (await retained(mosquitto, topics))[topics.alarm("pre_alarm:SD-0")]
        feed.publish(engine.command("acknowledge", "pre_alarm:SD-0", by="alice").events)
        feed.publish(status(engine, "SD-0", "normal"))
        await watcher.event("pre_alarm:SD-0", "cleared")
        after = await retained(mosquitto, topics)
    assert event["alarm"] == state
    assert {
        key: state[key]
        for key in (
            "id",
            "rule",
            "class",
            "priority",
            "state",
            "site",
            "building",
            "zone",
            "device",
            "value",
        )
    } == {
        "id": "pre_alarm:SD-0",
        "rule": "pre_alarm",
        "class": "fire",
        "priority": "high",
        "state": "unacknowledged",
        "site": "demo",
        "building": "ipd",
        "zone": "ward-0",
        "device": "SD-0",
        "value": "pre_alarm",
    }
    assert watcher.event_kinds() == [
        ("pre_alarm:SD-0", "raised"),
        ("pre_alarm:SD-0", "acknowledged"),
        ("pre_alarm:SD-0", "cleared"),
    ]
    assert topics.alarm("pre_alarm:SD-0") not in after
    retained_flags = {m.retain for m in watcher.messages if m.topic == topics.events}
    assert retained_flags == {False}


async def test_a_fire_goes_out_ahead_of_40_camera_alarms(mosquitto: MosquittoServer) -> None:
    topics, engine = unique_topics(), rules_engine()
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics) as feed,
    ):
        feed.publish(cameras_offline(engine))
        feed.publish(status(engine, "SD-1", "fire"))
        feed.start()
        await eventually(lambda: len(watcher.events()) == 81, what="all 81 events")
    alarm_topics = [m.topic for m in watcher.messages if "/alarms/" in m.topic]
    assert alarm_topics[0] == topics.alarm("fire:SD-1")
    assert len(alarm_topics) == 81
    kinds = watcher.event_kinds()
    assert kinds[0] == ("fire:SD-1", "raised")
    offline = [alarm for alarm, _ in kinds if alarm.startswith("camera_offline:")]
    assert offline == [f"camera_offline:{cam.id}" for cam in CAMERAS]


async def test_the_status_goes_out_after_a_fire_and_not_behind_a_flood(
    mosquitto: MosquittoServer,
) -> None:
    topics, engine = unique_topics(), rules_engine()
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics) as feed,
    ):
        feed.start()
        await watcher.status("online")
        feed.publish(cameras_offline(engine))  # a flood of 80 events...
        feed.publish(status(engine, "SD-1", "fire"))  # ...a fire...
        feed.update_status({"heartbeat": 2})  # ...and the status's turn, all at once
        await eventually(lambda: len(watcher.events()) == 81, what="all 81 events")
    order = [
        ("status" if m.topic == topics.status else m.json.get("alarm_id", m.topic))
        for m in watcher.messages
        if m.topic in (topics.status, topics.events)
        and (m.topic == topics.events or m.json.get("heartbeat") == 2)
    ]
    assert order[0] == "fire:SD-1"
    assert order[1] == "status"  # right after the fire, before the 80 others
    assert len(order) == 82


async def test_the_last_will_says_offline_when_the_connection_dies(
    mosquitto: MosquittoServer,
) -> None:
    topics = unique_topics()

    def statuses() -> list[str]:
        return [m.json["state"] for m in watcher.messages if m.topic == topics.status]

    async with (
        CuttableLink(mosquitto.port) as link,
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed("127.0.0.1", link.port, topics) as feed,
    ):
        feed.start()
        await watcher.status("online")
        link.cut()
        offline = await watcher.status("offline")
        assert offline == {
            "state": "offline",
            "site": "demo",
            "reason": "connection lost",
            "instance": feed.instance,
            "host": feed.host,
        }
        await eventually(
            lambda: statuses() == ["online", "offline", "online"],
            what="online again after reconnecting",
        )
    assert statuses() == ["online", "offline", "online", "offline"]
    assert feed.stats.reconnects == 1


async def test_alarms_raised_while_the_broker_is_down_arrive_after_it_returns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.alarms.feed")
    topics, engine = unique_topics(), rules_engine()
    with PersistentMosquitto(tmp_path / "broker") as broker:
        broker.start()
        watcher = Watcher(broker.host, broker.port, topics, client_id=f"w-{uuid.uuid4().hex}")
        async with watcher, running_feed(broker.host, broker.port, topics) as feed:
            feed.start()
            await watcher.status("online")
            broker.stop()
            await eventually(lambda: not feed.connected, what="the feed to notice")
            feed.publish([e for e in cameras_offline(engine) if e.alarm.zone == "zone-00"])
            feed.publish(status(engine, "SD-0", "fire"))
            feed.publish(status(engine, "SD-1", "fire"))
            feed.publish(engine.command("acknowledge", "fire:SD-0", by="alice").events)
            broker.start()
            await watcher.event("camera_offline:CAM-00", "raised")
            published = {"fire:SD-0", "fire:SD-1", "camera_offline:CAM-00", "blind_spot:zone-00"}
            expected = Counter(engine.alarms[alarm_id].group for alarm_id in published)
            after: dict[str, Any] = {}

            async def every_group_summarised() -> bool:
                after.update(await retained(broker, topics))
                summaries = [doc for topic, doc in after.items() if "/groups/" in topic]
                return {doc["group"]: doc["alarms"] for doc in summaries} == expected

            await eventually(every_group_summarised, what="a summary of every group")
        assert feed.stats.reconnects == 1
    assert set(expected) == {"fire@ward-0", "fire@ward-1", "trouble@zone-00", "security@zone-00"}
    after = {topic: doc for topic, doc in after.items() if "/groups/" not in topic}
    assert {topic: (doc.get("id"), doc["state"]) for topic, doc in after.items()} == {
        topics.status: (None, "online"),
        topics.alarm("fire:SD-0"): ("fire:SD-0", "acknowledged"),
        topics.alarm("fire:SD-1"): ("fire:SD-1", "unacknowledged"),
        topics.alarm("camera_offline:CAM-00"): ("camera_offline:CAM-00", "unacknowledged"),
        topics.alarm("blind_spot:zone-00"): ("blind_spot:zone-00", "unacknowledged"),
    }
    assert watcher.event_kinds() == [
        ("fire:SD-0", "raised"),
        ("fire:SD-1", "raised"),
        ("fire:SD-0", "acknowledged"),
        ("blind_spot:zone-00", "raised"),
        ("camera_offline:CAM-00", "raised"),
    ]
    logged = [record.getMessage().split(" (")[0] for record in caplog.records]
    where = f"{broker.host}:{broker.port}"
    assert logged == [
        f"alarm feed: connected to {where}, publishing on {topics.root}/",
        f"alarm feed: broker {where} unavailable",
        f"alarm feed: connected to {where} again, publishing on {topics.root}/",
    ]


async def test_a_retained_alarm_the_gateway_does_not_know_is_cleared(
    mosquitto: MosquittoServer,
) -> None:
    """Say the gateway stored `cleared` and died before publishing it: no ghost alarm stays."""
    topics, engine = unique_topics(), rules_engine()
    status(engine, "SD-0", "fire")
    ghost = json.dumps({"id": "pre_alarm:SD-2", "state": "unacknowledged"}).encode()
    await publish_raw(mosquitto, topics.alarm("pre_alarm:SD-2"), ghost, retain=True)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics) as feed,
    ):
        feed.start(engine.alarms.values())
        await watcher.wait_for(
            lambda m: m.topic == topics.alarm("pre_alarm:SD-2") and m.payload == b""
        )
        assert set(await retained(mosquitto, topics)) == {
            topics.status,
            topics.alarm("fire:SD-0"),
            topics.group(engine.alarms["fire:SD-0"].group),
        }


async def test_commands_are_parsed_and_bad_ones_handed_over_with_their_reason(
    mosquitto: MosquittoServer,
) -> None:
    """The feed is the transport: it parses, and hands over every command, an unparseable one
    as its CommandError, for the alarm service to audit and answer."""
    topics = unique_topics()
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_feed(mosquitto.host, mosquitto.port, topics) as feed,
    ):
        feed.start()
        await watcher.status("online")
        bad = b'{"action": "acknowledge", "alarm": "fire:SD-0", "request_id": "r1"}'
        await publish_raw(mosquitto, topics.commands, bad)
        good = {
            "action": "shelve",
            "alarm": "camera_offline:CAM-01",
            "by": "bob",
            "duration": "15m",
            "request_id": "r2",
        }
        await publish_raw(mosquitto, topics.commands, json.dumps(good).encode())
        async with asyncio.timeout(30):
            error = await anext(feed.commands)
            command = await anext(feed.commands)
        assert isinstance(error, CommandError)
        feed.reply(error, CommandResult.refused(error.reason))
        feed.reply(command, CommandResult.refused("no such thing"))
        refused, replied = await watcher.reply("r1"), await watcher.reply("r2")
    assert command == Command(
        Action.SHELVE, "camera_offline:CAM-01", "bob", {"duration": "15m"}, "r2", good
    )
    assert refused == {
        "request_id": "r1",
        "action": "acknowledge",
        "alarm": "fire:SD-0",
        "ok": False,
        "reason": "a command must say who sent it (by)",
        "events": [],
    }
    assert replied == {
        "request_id": "r2",
        "action": "shelve",
        "alarm": "camera_offline:CAM-01",
        "ok": False,
        "reason": "no such thing",
        "events": [],
    }
    assert (feed.stats.commands, feed.stats.refused) == (2, 2)


BAD_COMMANDS = [
    (b"acknowledge fire:SD-0", "a command must be JSON: Expecting value: line 1 column 1 (char 0)"),
    (b"\xff\xfe", "a command must be UTF-8 JSON"),
    (b'["acknowledge"]', "a command must be a JSON object"),
    (b'{"alarm": "fire:SD-0", "by": "al"}', "a command must name its action (action)"),
    (
        b'{"action": "silence", "alarm": "fire:SD-0", "by": "al"}',
        "unknown action 'silence'; expected one of acknowledge, on_site, reset, shelve, unshelve, "
        "out_of_service, in_service",
    ),
    (b'{"action": "reset", "by": "al"}', "a command must name the alarm (alarm)"),
    (b'{"action": "reset", "alarm": "fire:SD-0"}', "a command must say who sent it (by)"),
    (
        b'{"action": "reset", "alarm": "fire:SD-0", "by": "  "}',
        "a command must say who sent it (by)",
    ),
    (
        b'{"action": "reset", "alarm": "fire:SD-0", "by": "al", "alarm_id": "x"}',
        "unknown field 'alarm_id'; a command has action, alarm, by, request_id, at, nonce, "
        "signature and, to shelve or take out of service, duration",
    ),
    (b"{" + b" " * 9000 + b"}", "a command of 9002 bytes is too long (at most 8192)"),
    (
        b'{"action": "reset", "alarm": "fire:SD-0", "by": "al", "request_id": '
        + b"[" * 1000
        + b"]" * 1000
        + b"}",
        "a command must be strict JSON (not usable JSON: nested too deeply)",
    ),
    (
        b'{"action": "reset", "alarm": "fire:SD-0", "by": "al", "request_id": [1]}',
        "request_id must be a string of at most 128 characters or an integer",
    ),
    (
        b'{"action": "shelve", "alarm": "fire:SD-0", "by": "al", "duration": NaN}',
        "a command must be strict JSON (NaN is not a number JSON allows)",
    ),
    (
        b'{"action": "shelve", "alarm": "fire:SD-0", "by": "al", "duration": 1e400}',
        "duration must be a finite number, got inf",
    ),
]


@pytest.mark.parametrize(("payload", "reason"), BAD_COMMANDS)
def test_a_bad_command_is_refused_with_its_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(payload)
    assert caught.value.reason == reason


def test_a_refusal_keeps_the_request_id_for_the_reply() -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(b'{"action": "reset", "alarm": "fire:SD-0", "request_id": 7}')
    assert (caught.value.request_id, caught.value.action, caught.value.alarm) == (
        7,
        "reset",
        "fire:SD-0",
    )


def test_a_full_queue_drops_the_least_urgent_events_and_keeps_every_state() -> None:
    engine, queue = rules_engine(), PublishQueue(max_events=5)
    queue.add_events(cameras_offline(engine)[:8])
    queue.add_events(status(engine, "SD-0", "fire"))
    assert (len(queue), queue.dropped) == (5, 4)
    popped = [queue.pop() for _ in range(5)]
    assert [item.event.alarm_id for item in popped if item and item.event] == [
        "fire:SD-0",
        "blind_spot:zone-00",
        "blind_spot:zone-01",
        "blind_spot:zone-02",
        "blind_spot:zone-03",
    ]
    assert len(queue.stale) == 9


# Test plumbing: a line that can be cut, and a broker that keeps sessions across restarts.


class CuttableLink:
    """A TCP relay to the broker that can drop every connection without a word, like a cable
    pulled out: the broker sees no DISCONNECT, so it publishes the client's last will."""

    def __init__(self, broker_port: int) -> None:
        self.broker_port = broker_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.broker_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


class PersistentMosquitto(MosquittoServer):
    """A Mosquitto that saves sessions and retained messages when stopped, like a real one."""

    def start(self) -> Self:
        binary = require_binary(MOSQUITTO)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f"listener {self.port} {self.host}\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.workdir}/\nlog_dest stderr\n"
        )
        self.launch([binary, "-c", str(self.config)])
        self.wait_until(lambda: port_open(self.host, self.port), f"port {self.port}")
        return self
