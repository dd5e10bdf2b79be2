"""The alarm service end to end against a real Mosquitto: readings in, alarms on the broker,
commands back, durable across a restart, and alarm events as InfluxDB lines."""

from __future__ import annotations

import asyncio
import io
import urllib.request
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.reading import Reading, Value, now_ns
from firegw.alarms import send_command, watch_alarms
from gateway.alarms import AlarmFeed, AlarmService, AlarmStore, FeedTopics
from gateway.alarms.devices import device_infos
from gateway.alarms.lines import EventLines, event_line
from gateway.config import Site, load_site
from gateway.outbox import Outbox, OutboxWriter
from rules import AlarmState, DeviceKind, RuleEngine, RuleSet
from rules.clock import FakeClock
from tests.mqtt_watch import Watcher, publish_raw, retained
from tests.operators import key_file, signed
from tests.servers import InfluxServer, MosquittoServer
from tests.sites import CONFIG, clinic_site, eventually

QUIET = RuleSet.model_validate(
    {
        "kinds": {
            kind: {"comms_lost": {"enabled": False}}
            for kind in DeviceKind
            if kind not in (DeviceKind.GATEWAY, DeviceKind.LINK)
        }
    }
)
"""The default rules without communication loss: these tests send readings by hand."""


def private_site(folder: Path, broker: MosquittoServer) -> Site:
    """The demo clinic on the test's broker, with a topic prefix no other test uses."""
    site = load_site(clinic_site(folder, mqtt_port=broker.port))
    assert site.config.mqtt is not None
    mqtt = site.config.mqtt.model_copy(update={"topic_prefix": f"test-{uuid.uuid4().hex[:12]}"})
    return Site(site.path, site.config.model_copy(update={"mqtt": mqtt}), site.profiles)


@dataclass
class Running:
    service: AlarmService
    feed: AlarmFeed
    store: AlarmStore
    topics: FeedTopics
    broker: MosquittoServer
    site: Site

    async def status(self, device: str, value: Value) -> None:
        """A detector's status reading, straight into the service as the hub would give it."""
        await self.service([Reading(device, "status", value, observed_at=now_ns())])

    async def command(self, **document: Any) -> None:
        """A command on the command topic, signed as the operator's client signs it (with the
        key of `by`, or of `al` for a command that names nobody)."""
        payload = signed(self.site.path, document, key_of=document.get("by") or "al")
        await publish_raw(self.broker, self.topics.commands, payload)


@asynccontextmanager
async def running_service(
    site: Site, store_path: Path, broker: MosquittoServer, writer: OutboxWriter | None = None
) -> AsyncIterator[Running]:
    async with (
        AlarmStore(store_path) as store,
        AlarmFeed.for_site(site, reconnect_initial=0.2) as feed,
    ):
        service = AlarmService.for_site(site, store, feed, writer, rules=QUIET)
        task = asyncio.create_task(service.run())
        try:
            yield Running(service, feed, store, FeedTopics.for_site(site), broker, site)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def site(tmp_path: Path, mosquitto: MosquittoServer) -> Site:
    return private_site(tmp_path, mosquitto)


async def test_a_fire_reading_becomes_a_retained_alarm_and_a_raised_event(
    site: Site,
    tmp_path: Path,
    mosquitto: MosquittoServer,
) -> None:
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        event = await watcher.event("fire:SD-1F-01", "raised")
        state = (await retained(mosquitto, topics))[topics.alarm("fire:SD-1F-01")]
        stored = await running.store.load()
    assert event["alarm"] == state
    assert {
        k: state[k]
        for k in (
            "id",
            "class",
            "priority",
            "state",
            "site",
            "building",
            "zone",
            "device",
            "value",
            "escalation_level",
            "acknowledged_by",
        )
    } == {
        "id": "fire:SD-1F-01",
        "class": "fire",
        "priority": "critical",
        "state": "unacknowledged",
        "site": "demo",
        "building": "main",
        "zone": "main-1f-er",
        "device": "SD-1F-01",
        "value": "fire",
        "escalation_level": 0,
        "acknowledged_by": None,
    }
    assert [alarm.id for alarm in stored] == ["fire:SD-1F-01"]
    assert len(running.service.latencies) == 1
    assert running.service.latencies[0] > 0


async def test_two_detectors_in_one_zone_confirm_a_fire(
    site: Site,
    tmp_path: Path,
    mosquitto: MosquittoServer,
) -> None:
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        await running.status("SD-1F-02", "fire")
        event = await watcher.event("confirmed_fire:main-1f-er", "raised")
        await running.status("SD-2F-01", "fire")
        await watcher.event("fire:SD-2F-01", "raised")
    assert (event["alarm"]["zone"], event["alarm"]["device"]) == ("main-1f-er", None)
    assert watcher.event_kinds() == [
        ("fire:SD-1F-01", "raised"),
        ("fire:SD-1F-02", "raised"),
        ("confirmed_fire:main-1f-er", "raised"),
        ("fire:SD-2F-01", "raised"),
    ]


async def test_acknowledge_on_the_command_topic(
    site: Site,
    tmp_path: Path,
    mosquitto: MosquittoServer,
) -> None:
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        await watcher.event("fire:SD-1F-01", "raised")
        await running.command(
            action="acknowledge", alarm="fire:SD-1F-01", by="security.office", request_id="ack-1"
        )
        reply = await watcher.reply("ack-1")
        event = await watcher.event("fire:SD-1F-01", "acknowledged")
        state = (await retained(mosquitto, topics))[topics.alarm("fire:SD-1F-01")]
    assert reply == {
        "request_id": "ack-1",
        "action": "acknowledge",
        "alarm": "fire:SD-1F-01",
        "ok": True,
        "reason": None,
        "events": [{"alarm_id": "fire:SD-1F-01", "kind": "acknowledged"}],
    }
    assert event["by"] == "security.office"
    assert (state["state"], state["acknowledged_by"]) == ("acknowledged", "security.office")
    reply_at = next(i for i, m in enumerate(watcher.messages) if m.topic == topics.replies)
    event_at = next(
        i
        for i, m in enumerate(watcher.messages)
        if m.topic == topics.events and m.json["kind"] == "acknowledged"
    )
    assert event_at < reply_at, "the state change is on the broker before the reply says ok"


BAD = [
    (
        {"action": "acknowledge", "alarm": "fire:SD-9F-99", "by": "al"},
        "unknown alarm fire:SD-9F-99",
    ),
    ({"action": "acknowledge", "alarm": "fire:SD-1F-01"}, "a command must say who sent it (by)"),
    (
        {"action": "acknowledge", "alarm": "pre_alarm:SD-2F-01", "by": "al"},
        "alarm pre_alarm:SD-2F-01 is normal; there is nothing to acknowledge",
    ),
    (
        {"action": "acknowledge", "alarm": "fire:SD-1F-01", "by": "al", "duration": "5m"},
        "acknowledge takes no argument duration",
    ),
    (
        {"action": "shelve", "alarm": "fire:SD-1F-01", "by": "al", "duration": "15m"},
        "alarm fire:SD-1F-01 is a fire alarm and cannot be shelved; take the device out of "
        "service instead",
    ),
    (
        {"action": "reset", "alarm": "fire:SD-1F-01", "by": "al"},
        "alarm fire:SD-1F-01 cannot be reset while its condition is still present",
    ),
]


async def test_bad_commands_are_refused_and_change_nothing(
    site: Site,
    tmp_path: Path,
    mosquitto: MosquittoServer,
) -> None:
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        await running.status("SD-2F-01", "pre_alarm")
        await running.command(
            action="acknowledge", alarm="pre_alarm:SD-2F-01", by="al", request_id="ack"
        )
        await watcher.reply("ack")
        await running.status("SD-2F-01", "normal")
        await watcher.event("pre_alarm:SD-2F-01", "cleared")
        before = (await retained(mosquitto, topics), await running.store.history(limit=1000))
        events_before = len(watcher.events())
        for number, (document, _) in enumerate(BAD, start=1):
            await running.command(**document, request_id=number)
        await publish_raw(mosquitto, topics.commands, b"{not json")
        replies = [await watcher.reply(number) for number in range(1, len(BAD) + 1)]
        malformed = await watcher.wait_for(
            lambda m: m.topic == topics.replies and m.json["request_id"] is None
        )
        after = (await retained(mosquitto, topics), await running.store.history(limit=1000))
    assert [(r["ok"], r["reason"]) for r in replies] == [(False, reason) for _, reason in BAD]
    assert malformed.json["reason"].startswith("a command must be JSON: Expecting property name")
    assert len(watcher.events()) == events_before
    assert after == before


async def test_a_restart_neither_raises_an_acknowledged_alarm_again_nor_forgets_one(
    site: Site,
    tmp_path: Path,
    mosquitto: MosquittoServer,
) -> None:
    topics, path = FeedTopics.for_site(site), tmp_path / "alarms.sqlite"
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, path, mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        await running.status("SD-2F-01", "pre_alarm")
        await running.command(action="acknowledge", alarm="fire:SD-1F-01", by="al", request_id="a")
        await watcher.reply("a")
    async with Watcher(mosquitto.host, mosquitto.port, topics) as watcher:
        async with running_service(site, path, mosquitto) as running:
            await watcher.status("online")
            await running.status("SD-1F-01", "fire")
            await running.status("SD-2F-01", "pre_alarm")
            await running.command(
                action="acknowledge", alarm="pre_alarm:SD-2F-01", by="bo", request_id="b"
            )
            await watcher.reply("b")
            alarms = running.service.engine.alarms
        assert watcher.event_kinds() == [("pre_alarm:SD-2F-01", "acknowledged")]
    assert alarms["fire:SD-1F-01"].state is AlarmState.ACKNOWLEDGED
    assert alarms["pre_alarm:SD-2F-01"].acknowledged_by == "bo"
    states = {
        m.topic: m.json["state"] for m in watcher.messages if "/alarms/" in m.topic and m.retain
    }
    assert states == {
        topics.alarm("fire:SD-1F-01"): "acknowledged",
        topics.alarm("pre_alarm:SD-2F-01"): "unacknowledged",
    }


async def test_the_cli_watches_the_feed_and_sends_commands(
    site: Site,
    tmp_path: Path,
    mosquitto: MosquittoServer,
) -> None:
    out = io.StringIO()
    async with running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running:
        await running.status("SD-1F-01", "fire")
        await eventually(lambda: running.feed.stats.events == 1, what="the fire on the broker")
        watching = asyncio.create_task(watch_alarms(site, out, settle=0.2))
        await eventually(lambda: "fire:SD-1F-01" in out.getvalue(), what="the alarm table")
        key = key_file(site.path, "night.nurse").read_text().strip()
        reply = await send_command(site, "acknowledge", "fire:SD-1F-01", "night.nurse", key)
        refused = await send_command(
            site, "shelve", "fire:SD-1F-01", "night.nurse", key, duration="15m"
        )
        await eventually(lambda: "by night.nurse" in out.getvalue(), what="the event line")
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    assert (reply["ok"], refused["ok"]) == (True, False)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["PRIORITY", "STATE", "ZONE", "DEVICE", "ALARM", "RAISED", "MESSAGE"]
    assert lines[1].split()[:5] == [
        "CRITICAL",
        "unacknowledged",
        "main-1f-er",
        "SD-1F-01",
        "fire:SD-1F-01",
    ]
    event_line_text = next(line for line in lines if "by night.nurse" in line)
    assert event_line_text.split()[2:6] == ["CRITICAL", "main-1f-er", "SD-1F-01", "acknowledged"]
    assert event_line_text.endswith("[acknowledged] by night.nurse")


async def test_a_command_gets_a_timeout_when_no_gateway_listens(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("firegw.alarms.COMMAND_TIMEOUT", 0.5)
    with pytest.raises(
        TimeoutError,
        match=r"no reply on .*/commands/reply within 0.5 s: is the "
        r"gateway of site demo running and connected to 127.0.0.1:\d+\?",
    ):
        await send_command(site, "acknowledge", "fire:SD-1F-01", "al", "k" * 43)


async def test_alarm_events_are_written_to_influxdb(
    site: Site,
    tmp_path: Path,
    mosquitto: MosquittoServer,
    influxdb: InfluxServer,
) -> None:
    async with Outbox(tmp_path / "outbox.sqlite") as outbox:
        writer = OutboxWriter(outbox)
        async with running_service(site, tmp_path / "alarms.sqlite", mosquitto, writer) as running:
            await running.status("HP-1F-01", "ignored: hydrants have no status")
            await running.status("SD-1F-01", "fire")
            await running.service.command("on_site", "fire:SD-1F-01", by="guard 7")
        await writer.close()
        lines = [line for _, line in await outbox.peek(100)]
    database = f"alarms_{uuid.uuid4().hex[:8]}"
    influxdb.create_database(database)
    assert await asyncio.to_thread(write_lines, influxdb, database, lines) == 204
    rows = influxdb.query(database, "SELECT * FROM alarm_event")
    assert [(r["kind"], r["by"], r["state"]) for r in rows] == [
        ("raised", None, "unacknowledged"),
        ("on_site", "guard 7", "unacknowledged"),
        ("acknowledged", "guard 7", "acknowledged"),
    ]
    assert {
        (r["site"], r["zone"], r["device"], r["class"], r["priority"], r["value_text"])
        for r in rows
    } == {("demo", "main-1f-er", "SD-1F-01", "fire", "critical", "fire")}


def write_lines(influxdb: InfluxServer, database: str, lines: list[str]) -> int:
    request = urllib.request.Request(
        f"{influxdb.url}/write?db={database}", data="\n".join(lines).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_an_event_line_has_the_report_tags_and_typed_fields() -> None:
    demo = load_site(CONFIG / "demo.yaml")
    clock = FakeClock()
    engine = RuleEngine(device_infos(demo), QUIET, clock)
    engine.on_readings([Reading("HP-1F-01", "pressure", 0.05)])
    clock.advance(30)
    (event,) = engine.tick()
    assert event_line(event, "demo") == (
        "alarm_event,building=main,class=supervisory,device=HP-1F-01,priority=high,"
        'rule=pressure_low,site=demo,zone=main-1f-er alarm_id="pressure_low:HP-1F-01",'
        'kind="raised",state="unacknowledged",message="Hydrant pressure transmitter HP-1F-01 '
        'pressure below minimum: 0.05 MPa (limit 0.1 MPa) (zone main-1f-er)",'
        'cause="condition present for 30 s (on-delay)",escalation_level=0i,active=true,'
        f"latched=false,shelved=false,out_of_service=false,raised_at={event.alarm.raised_at}i,"
        f"since_raised=0.0,value=0.05 {event.at}"
    )
    assert ",risk=high," in event_line(event, "demo", risk="high")


def test_two_events_of_one_alarm_at_once_stay_two_points() -> None:
    """`on_site` also acknowledges, at the same nanosecond: InfluxDB would keep only one."""
    demo = load_site(CONFIG / "demo.yaml")
    clock, lines = FakeClock(), EventLines("demo")
    engine = RuleEngine(device_infos(demo), QUIET, clock)
    engine.on_readings([Reading("CAM-1F-01", "tamper", True)])
    clock.advance(10)
    raised = engine.tick()
    events = engine.command("on_site", "camera_tamper:CAM-1F-01", by='Wang "Lei"\nnight').events
    on_site, acknowledged = (lines(event) for event in events)
    assert [str(e.kind) for e in (*raised, *events)] == ["raised", "on_site", "acknowledged"]
    assert int(acknowledged.rsplit(" ", 1)[1]) == events[1].at + 1
    assert int(on_site.rsplit(" ", 1)[1]) == events[0].at
    assert 'by="Wang \\"Lei\\" night"' in on_site
    assert ',value_text="true"' in lines(raised[0])
