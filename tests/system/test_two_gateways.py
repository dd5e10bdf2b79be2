"""Two buildings' gateways given the same site id, both run as processes against one broker:
each says so (a trouble alarm on the feed, one log line naming both), and neither erases the
other's fire alarm. Then `firegw status` on a status nobody renews any more.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path

from gateway.alarms import FeedTopics
from gateway.config import load_site
from simulators import SimulatedSite
from tests.mqtt_watch import Watcher, publish_raw, retained
from tests.servers import MosquittoServer
from tests.sites import clinic_site, eventually
from tests.system.test_nothing_lost import GatewayProcess
from tests.system.test_storage_failures import errors

GATEWAY = "firegw-demo"


def west_building(folder: Path, mosquitto: MosquittoServer, prefix: str) -> Path:
    """The clinic again as another building, West, with devices of its own and the same site
    id and topic prefix as the first: the mistake of a copied site file."""
    folder.mkdir()
    site_file = clinic_site(folder, mqtt_port=mosquitto.port)
    text = site_file.read_text()
    for mine, theirs in (("SD-", "WD-"), ("HP-", "WP-"), ("CAM-", "WAM-")):
        text = text.replace(mine, theirs)
    # The building's ids, not every "main": the profiles' path may hold one (a checkout in main/).
    text = re.sub(r"\bmain(?=[-,}])", "west", text)
    text = re.sub(r"topic_prefix: \S+?([,}])", rf"topic_prefix: {prefix}\1", text)
    site_file.write_text(text)
    return site_file


async def test_two_gateways_with_one_site_id_say_so_and_erase_nothing_of_each_other(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    (tmp_path / "main").mkdir()
    main_file = clinic_site(tmp_path / "main", mqtt_port=mosquitto.port)
    main = load_site(main_file)
    topics = FeedTopics.for_site(main)
    west = load_site(west_building(tmp_path / "west", mosquitto, topics.prefix))
    assert (FeedTopics.for_site(west), west.config.site.id) == (topics, main.config.site.id)
    first = GatewayProcess(main_file, tmp_path / "main.log")
    second = GatewayProcess(west.path, tmp_path / "west.log")
    main_fire, west_fire = topics.alarm("fire:SD-1F-01"), topics.alarm("fire:WD-1F-01")
    async with (
        SimulatedSite(main, seed=1) as main_devices,
        SimulatedSite(west, seed=2) as west_devices,
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
    ):
        try:
            await first.start()
            await first.running()
            await main_devices.apply("fire", "SD-1F-01")
            await watcher.event("fire:SD-1F-01", "raised")
            await second.start()
            await second.running()
            await west_devices.apply("fire", "WD-1F-01")
            await watcher.event("fire:WD-1F-01", "raised")
            await asyncio.sleep(5)  # both keep publishing; neither may clear the other's fire
            found = await retained(mosquitto, topics)
            cleared = [m for m in watcher.messages if m.topic in (main_fire, west_fire)]
            assert [m.payload for m in cleared if not m.payload] == []
            assert {main_fire, west_fire} <= set(found)
            assert found[main_fire]["needs_person"]
            assert found[west_fire]["needs_person"]
            trouble = await watcher.event(f"duplicate_gateway:{GATEWAY}", "raised")
            await eventually(
                lambda: all("another gateway publishes" in g.log_text() for g in (first, second)),
                what="both gateways saying so",
            )
        finally:
            for gateway in (first, second):
                await gateway.terminate()
    statuses = [m.json for m in watcher.messages if m.topic == topics.status]
    instances = {s["instance"]: s["host"] for s in statuses if s["state"] == "online"}
    assert len(instances) == 2
    for gateway in (first, second):
        (line,) = [e for e in errors(gateway.log_text()) if "another gateway" in e]
        mine = re.search(r"this one is instance (\w+) on host (\S+)\.", line)
        assert mine is not None
        (other,) = set(instances) - {mine[1]}
        assert line.startswith(
            f"alarm feed: another gateway publishes as this site on {topics.root}/: instance "
            f"{other} on host {instances[other]}, client id firegw-demo-alarms-{other}, started "
        )
    assert trouble["alarm"]["message"] == (
        f"Gateway {GATEWAY} shares its site id or MQTT client id with another gateway on the "
        "broker: give each building its own site id"
    )


async def test_firegw_status_does_not_believe_an_online_status_nobody_renews(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """The gateway died, and an `online` status is on the broker: replayed, or published by
    hand. It is older than a few status intervals, so it is stale, and the command says so."""
    site_file = clinic_site(tmp_path, mqtt_port=mosquitto.port)
    topics = FeedTopics.for_site(load_site(site_file))
    two_minutes_ago = time.time_ns() - 120 * 10**9
    replayed = {
        "state": "online",
        "site": "demo",
        "at": two_minutes_ago,
        "started_at": two_minutes_ago - 10**12,
        "status_every": 15.0,
        "uptime": 1000.0,
        "readings": 1,
        "devices": {"ok": 11, "degraded": 0, "lost": 0, "waiting": 0},
    }
    await publish_raw(mosquitto, topics.status, json.dumps(replayed).encode(), retain=True)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "firegw",
        "status",
        str(site_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1, (out + err).decode()
    assert out.decode().startswith(
        f"gateway of site demo: stale since "
        f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(two_minutes_ago / 1e9))}"
    )
    assert "it publishes one every 15 s" in out.decode()


async def test_two_gateways_with_one_mqtt_client_id_say_so(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """Different site ids, one `mqtt.client_id`: the broker gives the device session to
    whichever connected last, again and again. Each gateway's feed, on its own topics and
    its own connection, stays up, and each gateway says what is going on."""
    sites = []
    for name in ("main", "west"):
        (tmp_path / name).mkdir()
        site_file = clinic_site(tmp_path / name, mqtt_port=mosquitto.port)
        text = site_file.read_text().replace("topic_prefix:", "client_id: one-box, topic_prefix:")
        if name == "west":
            for mine, theirs in (("SD-", "WD-"), ("HP-", "WP-"), ("CAM-", "WAM-")):
                text = text.replace(mine, theirs)
            text = text.replace("site: {id: demo,", "site: {id: west,")
        site_file.write_text(text)
        sites.append(load_site(site_file))
    gateways = [GatewayProcess(site.path, tmp_path / f"{n}.log") for n, site in enumerate(sites)]
    watchers = [Watcher(mosquitto.host, mosquitto.port, FeedTopics.for_site(s)) for s in sites]
    async with (
        SimulatedSite(sites[0], seed=1),
        SimulatedSite(sites[1], seed=2),
        watchers[0] as main_feed,
        watchers[1] as west_feed,
    ):
        try:
            for gateway in gateways:
                await gateway.start()
                await gateway.running()
            await main_feed.event(f"duplicate_gateway:{GATEWAY}", "raised")
            await west_feed.event("duplicate_gateway:firegw-west", "raised")
        finally:
            for gateway in gateways:
                await gateway.terminate()
    for gateway in gateways:
        (line,) = [e for e in errors(gateway.log_text()) if "taking it over" in e]
        assert re.fullmatch(
            r"MQTT: the device broker 127\.0\.0\.1:\d+ dropped the session of client id one-box "
            r"\d+ times in a minute while the alarm feed stayed connected to it: another client "
            r"with that client id is taking it over, most likely a second gateway with the same "
            r"site id or mqtt\.client_id; give each building its own site id",
            line,
        )
