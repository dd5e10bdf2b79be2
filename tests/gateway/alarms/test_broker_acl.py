"""The broker's access list (`firegw broker-acl`) against a real Mosquitto with passwords:
only the gateway publishes the feed, so nobody else can fake or erase a retained alarm or the
status; only operators publish commands; nobody gets in anonymously."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from gateway.alarms import AlarmFeed, FeedTopics
from gateway.config import Site, load_site
from tests.mqtt_watch import Watcher
from tests.servers import MosquittoServer, require_binary
from tests.sites import clinic_site, eventually

FIREGW = [sys.executable, "-m", "firegw"]
GATEWAY, PASSWORD = "firegw-demo", "gateway-secret"
ACCOUNTS = {
    GATEWAY: PASSWORD,
    "al": "al-secret",
    "nvr": "nvr-secret",
    "console": "console-secret",
    "guard-console": "guard-console-secret",
}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD)
    secret.chmod(0o600)
    site_file = clinic_site(tmp_path, mqtt_port=1883)
    text = site_file.read_text().replace(
        "topic_prefix:", f"username: {GATEWAY}, password: {{file: {secret}}}, topic_prefix:", 1
    )
    site_file.write_text(text)
    return load_site(site_file)


@pytest.fixture
def broker(tmp_path: Path, site: Site) -> Iterator[MosquittoServer]:
    acl = tmp_path / "firegw.acl"
    accounts = ["--device-user", "nvr", "--reader", "console", "--console", "guard-console"]
    made = subprocess.run(
        [*FIREGW, "broker-acl", str(site.path), *accounts],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    acl.write_text(made.stdout)
    passwords = tmp_path / "firegw.passwd"
    mosquitto_passwd = require_binary("/usr/bin/mosquitto_passwd")
    for number, (user, password) in enumerate(ACCOUNTS.items()):
        create = ["-c"] if number == 0 else []
        subprocess.run(
            [mosquitto_passwd, *create, "-b", str(passwords), user, password],
            check=True,
            capture_output=True,
        )
    settings = f"allow_anonymous false\npassword_file {passwords}\nacl_file {acl}\n"
    with MosquittoServer(tmp_path / "broker", settings=settings) as server:
        yield server.start()


def on(site: Site, broker: MosquittoServer) -> Site:
    """The site pointed at this test's broker."""
    assert site.config.mqtt is not None
    mqtt = site.config.mqtt.model_copy(update={"port": broker.port})
    return Site(site.path, site.config.model_copy(update={"mqtt": mqtt}), site.profiles)


def login(user: str) -> dict[str, Any]:
    return {"username": user, "password": ACCOUNTS[user]}


async def publish(
    broker: MosquittoServer, user: str, topic: str, payload: bytes, *, retain: bool = False
) -> None:
    async with aiomqtt.Client(broker.host, broker.port, **login(user)) as client:
        await client.publish(topic, payload, qos=1, retain=retain)


async def test_only_the_gateway_publishes_the_feed(site: Site, broker: MosquittoServer) -> None:
    """Before: a fake retained fire alarm stayed, and a fake `online` status was believed."""
    site = on(site, broker)
    topics = FeedTopics.for_site(site)
    fake = json.dumps({"id": "fire:SD-1F-01", "state": "unacknowledged"}).encode()
    async with (
        Watcher(broker.host, broker.port, topics, **login("console")) as watcher,
        AlarmFeed.for_site(site) as feed,
    ):
        feed.start()
        await watcher.status("online")
        for user in ("al", "nvr", "console", "guard-console"):
            await publish(broker, user, topics.alarm("fire:SD-1F-01"), fake, retain=True)
            await publish(broker, user, topics.group("fire@main-1f-er"), fake, retain=True)
            await publish(broker, user, topics.status, b'{"state": "offline"}', retain=True)
            await publish(broker, user, topics.events, b'{"kind": "raised"}')
        await asyncio.sleep(1.0)
        others = [m.topic for m in watcher.messages if m.topic != topics.status]
        statuses = [m.json["state"] for m in watcher.messages if m.topic == topics.status]
    assert others == []
    assert statuses == ["online"]


async def test_only_operators_publish_commands(site: Site, broker: MosquittoServer) -> None:
    site = on(site, broker)
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(broker.host, broker.port, topics, **login("console")) as watcher,
        AlarmFeed.for_site(site) as feed,
    ):
        feed.start()
        await watcher.status("online")
        for user in ("nvr", "console", "al", "guard-console"):
            document = {"action": "acknowledge", "alarm": "fire:X", "by": user}
            await publish(broker, user, topics.commands, json.dumps(document).encode())
        async with asyncio.timeout(30):
            first = await anext(feed.commands)
            second = await anext(feed.commands)
    assert (first.by, second.by) == ("al", "guard-console")
    assert feed.stats.commands == 2


async def test_nobody_gets_in_without_an_account(
    site: Site, broker: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.alarms.feed")
    with pytest.raises(aiomqtt.MqttCodeError):
        async with aiomqtt.Client(broker.host, broker.port):
            pass
    site = on(site, broker)
    assert site.config.mqtt is not None
    anonymous = Site(
        site.path,
        site.config.model_copy(
            update={
                "mqtt": site.config.mqtt.model_copy(update={"username": None, "password": None})
            }
        ),
        site.profiles,
    )
    async with AlarmFeed.for_site(anonymous, reconnect_initial=0.1, reconnect_cap=0.2) as feed:
        feed.start()
        await eventually(lambda: feed.stats.connect_failures >= 2, what="two refusals")
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(
        f"alarm feed: broker 127.0.0.1:{broker.port} refused the login of an anonymous client ("
    )
