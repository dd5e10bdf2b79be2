"""The uplink against pysiaalarm as the monitoring centre, over real sockets: events from the
durable alarm store reach it, in order, through outages of the receiver and restarts of the
gateway; link tests at the configured interval; a wrong key refused and reported."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from core import Reading
from gateway.alarms import AlarmStore
from gateway.alarms.devices import device_infos
from gateway.config import Site, load_site
from gateway.uplink import Uplink
from rules import AlarmEvent, RuleEngine
from rules.clock import FakeClock
from tests.gateway.uplink.centre import Centre
from tests.gateway.uplink.sites import ACCOUNT, KEY, KEY_HEX, uplink_clinic
from tests.sites import eventually
from tests.tls import make_pki


@dataclass
class Building:
    """The clinic's rules engine, its alarm store and its uplink, as the gateway runs them."""

    site: Site
    store: AlarmStore
    uplink: Uplink
    readings: list[Reading] = field(default_factory=list)
    clock: FakeClock = field(default_factory=FakeClock)

    def __post_init__(self) -> None:
        devices = [replace(info, supervision=1e6) for info in device_infos(self.site)]
        self.engine = RuleEngine(devices, self.site.config.rules, self.clock)

    async def record(self, events: Sequence[AlarmEvent]) -> None:
        assert await self.store.record(events)

    async def reading(self, device: str, point: str, value: Any, seconds: float = 0.0) -> None:
        await self.record(self.engine.on_readings([Reading(device, point, value)]))
        for _ in range(int(seconds * 2)):
            self.clock.advance(0.5)
            await self.record(self.engine.tick())

    async def command(self, action: str, alarm: str) -> None:
        result = self.engine.command(action, alarm, "li.na")
        assert result.ok, result.reason
        await self.record(result.events)

    def flag(self, point: str) -> Any:
        """The latest value the uplink reported for one of its readings."""
        values = [r.value for r in self.readings if r.point == point]
        return values[-1] if values else None


@contextlib.asynccontextmanager
async def building(site_file: Path) -> AsyncIterator[Building]:
    site = load_site(site_file)
    found: list[Reading] = []

    async def publish(readings: Sequence[Reading]) -> None:
        found.extend(readings)

    uplink = Uplink(site, publish=publish, interval=0.5)
    async with AlarmStore(site.alarm_store_path) as store, uplink:
        running = asyncio.create_task(uplink.run(store))
        try:
            yield Building(site, store, uplink, found)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running


def received(centre: Centre) -> list[tuple[str, str, str | None]]:
    """(code, zone, point) of every alarm event the centre has, each sequence number once."""
    seen: dict[str, tuple[str, str, str | None]] = {}
    for event in centre.alarms():
        seen.setdefault(event["sequence"], (event["code"], event["ri"], event["message"]))
    return list(seen.values())


ENCRYPTIONS = [
    pytest.param(None, "", id="clear"),
    pytest.param(KEY, "  key_format: text\n", id="aes-text-key"),
    pytest.param(KEY_HEX, "", id="aes-hex-key"),
]


@pytest.mark.parametrize("udp", [False, True], ids=["tcp", "udp"])
@pytest.mark.parametrize(("key", "key_settings"), ENCRYPTIONS)
async def test_a_fire_reaches_the_centre_and_restores(
    tmp_path: Path, udp: bool, key: str | None, key_settings: str
) -> None:
    extra = key_settings + ("  protocol: udp\n" if udp else "")
    async with Centre(tmp_path, key=KEY if key else None, udp=udp) as centre:
        site_file = uplink_clinic(tmp_path, centre.port, extra, key=key)
        async with building(site_file) as site:
            await eventually(lambda: len(centre.events()) >= 1, what="the link test at start")
            assert centre.events()[0]["message_type"] == "NULL"
            await site.reading("SD-1F-01", "status", "fire")
            await centre.received(1)
            (fire,) = centre.alarms()
            assert (fire["account"], fire["code"], fire["ri"], fire["message"]) == (
                ACCOUNT,
                "FA",
                "1",
                "001",
            )
            assert fire["encrypted"] is (key is not None)
            assert "Smoke detector SD-1F-01 in fire" in fire["x_data"]
            await site.reading("SD-1F-01", "status", "normal")
            await site.command("reset", "fire:SD-1F-01")
            await centre.received(3)
            assert received(centre) == [("FA", "1", "001"), ("FH", "1", "001"), ("FC", "1", "001")]
            await eventually(lambda: site.flag("uplink_waiting") == 0, what="nothing waiting")
            assert site.flag("uplink_ok") is True


async def test_contact_id_over_tls(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    extra = f"  format: contact_id\n  tls: {{ca_file: {pki.ca}}}\n"
    async with Centre(tmp_path, key=KEY, tls=(pki.server_cert, pki.server_key)) as centre:
        site_file = uplink_clinic(tmp_path, centre.port, extra + "  key_format: text\n", key=KEY)
        site_file.write_text(
            site_file.read_text().replace("host: 127.0.0.1\n  port", "host: localhost\n  port")
        )
        async with building(site_file) as site:
            await site.reading("HP-2F-01", "pressure", 0.05, seconds=31)
            await centre.received(1)
            (low,) = centre.alarms()
            assert (low["message_type"], low["event_qualifier"], low["event_type"]) == (
                "ADM-CID",
                "1",
                "201",
            )
            assert (low["partition"], low["ri"]) == ("02", "007")


async def test_an_outage_during_a_fire_ends_with_every_event_in_order(tmp_path: Path) -> None:
    centre = Centre(tmp_path, key=KEY)
    await centre.start()
    extra = "  key_format: text\n  down_after: 3s\n"
    async with building(uplink_clinic(tmp_path, centre.port, extra, key=KEY)) as site:
        await eventually(lambda: len(centre.events()) >= 1, what="the link test at start")
        await centre.kill()  # the centre, or the path to it, is gone
        await site.reading("SD-2F-01", "status", "fault", seconds=11)
        await site.reading("SD-1F-01", "status", "fire")
        await site.reading("SD-1F-02", "status", "fire")
        await site.reading("HP-1F-01", "pressure", 0.05, seconds=31)
        await eventually(lambda: site.flag("uplink_ok") is False, what="the path counted down")
        assert site.flag("uplink_waiting") == 5
        await centre.start()
        await centre.received(5, within=60)
        await eventually(lambda: site.flag("uplink_ok") is True, what="the path up again")
    await centre.stop()
    codes = received(centre)
    assert sorted(codes[:3]) == [("FA", "1", "000"), ("FA", "1", "001"), ("FA", "1", "002")]
    assert codes[3:] == [("FS", "1", "006"), ("FT", "2", "003")]  # then supervisory, trouble


async def test_a_restart_during_an_outage_sends_each_event_once(tmp_path: Path) -> None:
    centre = Centre(tmp_path)
    site_file = uplink_clinic(tmp_path, centre.port)
    async with building(site_file) as site:
        await site.reading("SD-1F-01", "status", "fire")
        await eventually(lambda: site.flag("uplink_waiting") == 1, what="the fire queued")
        await site.reading("SD-2F-01", "status", "fire")
        await eventually(lambda: site.flag("uplink_waiting") == 2, what="both fires queued")
    async with building(site_file) as site:  # the gateway again, the centre back
        await centre.start()
        await site.reading("SD-1F-01", "status", "normal")  # the engine starts afresh here
        await centre.received(2, within=60)
        await eventually(lambda: site.flag("uplink_waiting") == 0, what="the queue empty")
    await centre.stop()
    events = centre.alarms()
    assert [(e["code"], e["message"]) for e in events] == [("FA", "001"), ("FA", "003")]
    assert len({e["sequence"] for e in events}) == 2


async def test_a_restart_during_an_outage_keeps_the_path_down(tmp_path: Path) -> None:
    site_file = uplink_clinic(tmp_path, Centre(tmp_path).port, "  down_after: 2s\n")
    async with building(site_file) as site:  # the centre is away
        await eventually(lambda: site.flag("uplink_ok") is False, what="the path counted down")
    async with building(site_file) as site:  # the gateway again, the centre still away
        await eventually(lambda: site.flag("uplink_waiting") is not None, what="a first report")
        assert site.flag("uplink_ok") is not True  # not known yet: uplink_down stays raised
        await eventually(lambda: site.flag("uplink_ok") is False, what="the path down again")
        assert True not in [r.value for r in site.readings if r.point == "uplink_ok"]


async def test_link_tests_come_at_the_configured_interval(tmp_path: Path) -> None:
    async with (
        Centre(tmp_path) as centre,
        building(uplink_clinic(tmp_path, centre.port, "  supervision: 2s\n")),
    ):
        await eventually(lambda: len(centre.events()) >= 5, what="five link tests")
    times = [e["received_at"] for e in centre.events() if e["message_type"] == "NULL"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 1.9 for gap in gaps), gaps  # never more often than configured
    assert sorted(gaps)[len(gaps) // 2] < 4.0, gaps  # and not much less often
    assert {e["code"] for e in centre.events()} == {"RP"}
    assert [e["sequence"] for e in centre.events()] == ["0001", "0002", "0003", "0004", "0005"][
        : len(centre.events())
    ]


async def test_a_wrong_key_is_refused_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    extra = "  key_format: text\n  down_after: 2s\n"
    async with Centre(tmp_path, key="FEDCBA9876543210") as centre:
        async with building(uplink_clinic(tmp_path, centre.port, extra, key=KEY)) as site:
            await site.reading("SD-1F-01", "status", "fire")
            await eventually(lambda: site.flag("uplink_ok") is False, what="uplink_ok false")
            assert site.flag("uplink_waiting") == 1
            assert site.uplink.link.stats.refused >= 1
            assert site.uplink.as_dict()["last_error"] == "refused (NAK)"
        assert centre.events() == []
    refusals = [r.getMessage() for r in caplog.records if "refuses our messages" in r.getMessage()]
    assert len(refusals) == 1
    assert "it does not know account 1234, or the key is not its key" in refusals[0]
    assert KEY not in caplog.text


async def test_a_code_the_centre_does_not_know_is_set_aside(tmp_path: Path) -> None:
    extra = "  codes:\n    detector_fault: {raised: [AX, E373], restored: [FJ, R373]}\n"
    async with (
        Centre(tmp_path) as centre,
        building(uplink_clinic(tmp_path, centre.port, extra)) as site,
    ):
        await site.reading("SD-2F-01", "status", "fault", seconds=11)
        await site.reading("SD-1F-01", "status", "fire")
        await eventually(lambda: site.flag("uplink_set_aside") == 1, within=60, what="set aside")
        await site.reading("SD-2F-01", "status", "normal", seconds=1)
        await centre.received(2)
        assert received(centre) == [("FA", "1", "001"), ("FJ", "2", "003")]
        (aside,) = await site.uplink.queue.set_aside_messages()
        assert (aside[0].sia, aside[1]) == ("AX", "the receiver does not understand it (DUH)")


async def test_a_fresh_queue_sends_the_alarms_there_are_not_the_history(tmp_path: Path) -> None:
    centre = Centre(tmp_path)
    site_file = uplink_clinic(tmp_path, centre.port)
    site = load_site(site_file)
    clinic = Building(site, AlarmStore(site.alarm_store_path), Uplink(site))
    async with clinic.store:  # the gateway ran without an uplink
        await clinic.reading("SD-2F-01", "status", "fire")
        await clinic.reading("SD-2F-01", "status", "normal")
        await clinic.command("acknowledge", "fire:SD-2F-01")
        await clinic.command("reset", "fire:SD-2F-01")  # over: history only
        await clinic.reading("SD-1F-01", "status", "fire")  # still burning
    async with Centre(tmp_path, port=centre.port) as centre, building(site_file):
        await centre.received(1)
        await asyncio.sleep(1)  # nothing else follows
    assert received(centre) == [("FA", "1", "001")]
