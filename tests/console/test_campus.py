"""A campus: two buildings' brokers bridged to a central one (Mosquitto bridges, as
docs/console.md configures them), and one console on the central broker showing both.

Each bridge runs through a link the test can cut: a fire raised in a building while its
link is down is queued by the building's broker and reaches the central console when the
link heals, once, with the commands still going the other way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from drivers.mqtt import BrokerSpec
from gateway.alarms import FeedTopics
from gateway.config import Site, load_site
from tests.console.conftest import add_passwords, api_client, running_console
from tests.gateway.alarms.test_service import running_service
from tests.mqtt_watch import retained
from tests.servers import MosquittoServer, free_port
from tests.sites import clinic_site, eventually


class CuttableLink:
    """A TCP relay to `port`: `cut` drops every connection and refuses new ones, `heal`
    accepts again on the same port."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def heal(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def bridge_settings(name: str, central_port: int, topics: FeedTopics) -> str:
    """A building broker's mosquitto.conf lines for its bridge to the central broker, as
    docs/console.md gives them: the feed goes out, commands come in, QoS 1, a persistent
    session so that the building's broker queues while the link is down."""
    root = topics.root
    return (
        "allow_anonymous true\n"
        "max_queued_messages 100000\n"
        f"connection {name}\n"
        f"address 127.0.0.1:{central_port}\n"
        f"remote_clientid bridge-{name}\n"
        "cleansession false\n"
        "restart_timeout 1 2\n"
        "keepalive_interval 5\n"
        f"topic {root}/alarms/# out 1\n"
        f"topic {root}/events out 1\n"
        f"topic {root}/gateway/status out 1\n"
        f"topic {root}/commands/reply out 1\n"
        f"topic {root}/commands in 1\n"
    )


def building_site(folder: Path, site_id: str, broker_port: int) -> Site:
    folder.mkdir(parents=True, exist_ok=True)
    site_file = clinic_site(folder, mqtt_port=broker_port)
    text = site_file.read_text().replace("site: {id: demo,", f"site: {{id: {site_id},")
    site_file.write_text(text)
    return load_site(add_passwords(site_file))


@contextlib.asynccontextmanager
async def building(
    tmp_path: Path, name: str, central: MosquittoServer
) -> AsyncIterator[tuple[Site, MosquittoServer, CuttableLink]]:
    """A building's broker, bridged to `central` through a cuttable link."""
    link = CuttableLink(central.port)
    await link.heal()
    port = free_port()
    site = building_site(tmp_path / name, name, port)
    broker = MosquittoServer(
        tmp_path / f"{name}-broker",
        port=port,
        settings=bridge_settings(name, link.port, FeedTopics.for_site(site)),
    )
    with broker:
        broker.start()
        try:
            yield site, broker, link
        finally:
            await link.cut()


async def test_a_fire_raised_while_a_bridge_is_cut_reaches_the_central_console_once(
    tmp_path: Path,
) -> None:
    central = MosquittoServer(tmp_path / "central")
    with central:
        central.start()
        async with (
            building(tmp_path, "bldg-a", central) as (site_a, broker_a, link_a),
            building(tmp_path, "bldg-b", central) as (site_b, broker_b, _),
            running_service(site_a, tmp_path / "a.sqlite", broker_a) as gateway_a,
            running_service(site_b, tmp_path / "b.sqlite", broker_b) as gateway_b,
            running_console(
                [site_a, site_b], broker=BrokerSpec(central.host, central.port)
            ) as console,
            api_client(console.url) as guard,
        ):
            board = console.board
            assert len(console.links) == 1  # every building from the one central broker
            await eventually(
                lambda: {"bldg-a", "bldg-b"} <= set(board.statuses),
                what="both gateways' status on the central console",
            )
            await gateway_a.status("SD-1F-01", "fire")
            await gateway_b.status("SD-1F-01", "fire")
            await eventually(
                lambda: {"bldg-a/fire:SD-1F-01", "bldg-b/fire:SD-1F-01"} <= set(board.alarms),
                what="both buildings' fires",
            )

            await link_a.cut()
            await gateway_a.status("SD-2F-01", "fire")  # building A alone knows, for now
            # Building B is unaffected: a guard acknowledges its fire through the bridge.
            await guard.login("bo")
            status, body = await guard.post(
                "/api/commands",
                {"site": "bldg-b", "action": "acknowledge", "alarm": "fire:SD-1F-01"},
            )
            assert status == 200, body
            assert "bldg-a/fire:SD-2F-01" not in board.alarms

            await link_a.heal()
            await eventually(
                lambda: "bldg-a/fire:SD-2F-01" in board.alarms,
                what="the fire raised while the bridge was cut",
            )
            fire = board.alarms["bldg-a/fire:SD-2F-01"]
            assert (fire["state"], fire["zone"]) == ("unacknowledged", "main-2f-ward")

            # Commands reach building A again, and its reply comes back.
            status, body = await guard.post(
                "/api/commands",
                {"site": "bldg-a", "action": "acknowledge", "alarm": "fire:SD-2F-01"},
            )
            assert status == 200, body
            await eventually(
                lambda: board.alarms["bldg-a/fire:SD-2F-01"]["acknowledged_by"] == "bo",
                what="the acknowledgement from building A",
            )
            history = await console.journal.history("bldg-a", "fire:SD-2F-01")
            assert [e["kind"] for e in history] == ["raised", "acknowledged"]  # nothing twice
            assert len(await console.journal.history("bldg-a", "fire:SD-1F-01")) == 1

            # A newcomer on the central broker (a restarted console) sees it retained.
            kept = await retained(central, FeedTopics.for_site(site_a))
            assert kept[FeedTopics.for_site(site_a).alarm("fire:SD-2F-01")]["state"] == (
                "acknowledged"
            )
