"""From a detector's fire on the simulated panel to pysiaalarm, the monitoring centre: the
gateway as its own process (`firegw run`), a real broker, real Modbus, real DC-09."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gateway.alarms import FeedTopics
from gateway.config import load_site
from simulators import SimulatedSite
from tests.gateway.uplink.centre import Centre
from tests.gateway.uplink.sites import KEY, uplink_clinic
from tests.mqtt_watch import Watcher
from tests.servers import MosquittoServer
from tests.system.test_alarms_end_to_end import gateway_process


async def test_a_fire_on_the_panel_reaches_the_centre_within_10_s(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    async with Centre(tmp_path, key=KEY) as centre:
        site_file = uplink_clinic(
            tmp_path, centre.port, "  key_format: text\n", key=KEY, mqtt_port=mosquitto.port
        )
        site = load_site(site_file)
        async with (
            SimulatedSite(site, seed=18) as simulators,
            Watcher(mosquitto.host, mosquitto.port, FeedTopics.for_site(site)) as watcher,
            gateway_process(site_file),
        ):
            await watcher.status("online")
            await asyncio.sleep(2)  # the detectors read as normal first
            await simulators.apply("fire", "SD-2F-02")
            fired = time.time()
            await centre.received(1, within=10, what="the fire at the centre within 10 s")
            (fire,) = centre.alarms()
            assert (fire["code"], fire["ri"], fire["message"]) == ("FA", "2", "004")
            assert fire["received_at"] - fired < 10


async def test_an_outage_and_a_gateway_kill_during_a_fire_lose_nothing(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    centre = Centre(tmp_path)
    site_file = uplink_clinic(tmp_path, centre.port, "  down_after: 3s\n", mqtt_port=mosquitto.port)
    site = load_site(site_file)
    uplink_down = f"uplink_down:{site.config.site.gateway_id}"
    async with (
        SimulatedSite(site, seed=19) as simulators,
        Watcher(mosquitto.host, mosquitto.port, FeedTopics.for_site(site)) as watcher,
    ):
        async with gateway_process(site_file) as process:
            await watcher.status("online")
            await asyncio.sleep(2)
            await simulators.apply("fire", "SD-1F-01")  # the centre is away
            await watcher.event("fire:SD-1F-01", "raised")
            await simulators.apply("fire", "SD-1F-02")
            await watcher.event("confirmed_fire:main-1f-er", "raised")
            await simulators.apply("clear", "SD-1F-01")
            await watcher.event("fire:SD-1F-01", "returned_to_normal")
            await watcher.event(uplink_down, "raised")  # the path down: a trouble on the feed
            process.kill()  # no clean shutdown: the queue on disk must be enough
            await process.wait()
        await centre.start()
        async with gateway_process(site_file):
            await watcher.event(uplink_down, "returned_to_normal")
            await centre.received(6, within=60, what="every event of the fire, and the path's")
        await centre.stop()
    by_sequence: dict[str, tuple[str, str | None]] = {}
    for event in centre.alarms():  # a retransmission has the number of the first
        by_sequence.setdefault(event["sequence"], (event["code"], event["message"]))
    codes = [by_sequence[number] for number in sorted(by_sequence)]
    fire = [("FA", "001"), ("FA", "002"), ("FA", "000"), ("FH", "001")]
    assert codes == [*fire, ("YC", "908"), ("YK", "908")]  # fire first, then the trouble
