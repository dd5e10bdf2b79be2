"""Storage failing under the gateway, run as a process: damaged, emptied and deleted stores, a
full disk and a read-only one. Through all of it a detector's fire reaches the broker.

Real servers throughout: `python -m firegw run SITE` as a subprocess, the simulated clinic
over real sockets, Mosquitto, real SQLite files, and for a full disk a real tmpfs of a few MB
(tests/disk.py). What the gateway must do each time: keep raising and publishing alarms, set
a damaged file aside and start a fresh one, raise its own trouble alarm on the feed, and say
so once in the log.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from gateway.alarms import FeedTopics
from gateway.config import Site, load_site
from simulators import SimulatedSite
from tests.disk import SmallDisk
from tests.mqtt_watch import Watcher, retained
from tests.operators import signed
from tests.servers import MosquittoServer
from tests.sites import clinic_site, eventually
from tests.system.test_nothing_lost import GatewayProcess, outbox_rows

GATEWAY = "firegw-demo"
"""The gateway's own device id in the clinic: its trouble alarms are `<rule>:firegw-demo`."""


@asynccontextmanager
async def clinic(
    tmp_path: Path, mosquitto: MosquittoServer, *, data: Path | None = None
) -> AsyncIterator[tuple[Site, SimulatedSite, Watcher, GatewayProcess]]:
    """The clinic's simulators, a watcher of its feed, and its gateway process (not started);
    its outbox and alarm store in `data` (default: the test's folder)."""
    site_file = clinic_site(tmp_path, mqtt_port=mosquitto.port)
    if data is not None:
        text = site_file.read_text().replace(str(tmp_path / "outbox.sqlite"), str(data / "o.db"))
        site_file.write_text(text)
    site = load_site(site_file)
    gateway = GatewayProcess(site_file, tmp_path / "gateway.log")
    async with (
        SimulatedSite(site, seed=3) as simulators,
        Watcher(mosquitto.host, mosquitto.port, FeedTopics.for_site(site)) as watcher,
    ):
        try:
            yield site, simulators, watcher, gateway
        finally:
            if gateway.process is not None and gateway.process.returncode is None:
                await gateway.kill()


async def command(
    site: Site, mosquitto: MosquittoServer, watcher: Watcher, **fields: Any
) -> dict[str, Any]:
    """A command signed by the supervisor `al` (tests.operators), and the gateway's reply."""
    request_id = f"test-{time.monotonic_ns()}"
    payload = signed(site.path, {**fields, "by": "al", "request_id": request_id})
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        await client.publish(FeedTopics.for_site(site).commands, payload, qos=1)
    return await watcher.reply(request_id)


async def fire_arrives(simulators: SimulatedSite, watcher: Watcher, detector: str) -> None:
    """A detector goes into fire: its alarm must be on the broker at once, whatever else."""
    await simulators.apply("fire", detector)
    raised = await watcher.event(f"fire:{detector}", "raised")
    assert raised["alarm"]["priority"] == "critical"


def errors(log: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in log.splitlines() if " ERROR " in line]


# 1. A damaged outbox, between runs and while running.


def damaged_copies(folder: Path) -> list[Path]:
    return sorted(folder.glob("outbox.sqlite.corrupt-*"))


def garbage_file(path: Path) -> None:
    path.write_bytes(os.urandom(max(path.stat().st_size, 8192)))


def garbage_header(path: Path) -> None:
    with path.open("r+b") as file:
        file.write(os.urandom(100))


@pytest.mark.parametrize("damage", [garbage_file, garbage_header], ids=["file", "header"])
async def test_a_damaged_outbox_at_start_is_set_aside_and_the_gateway_runs(
    tmp_path: Path, mosquitto: MosquittoServer, damage: Callable[[Path], None]
) -> None:
    async with clinic(tmp_path, mosquitto) as (site, simulators, watcher, gateway):
        await gateway.start()
        await eventually(lambda: len(outbox_rows(site.outbox_path)) > 20, what="readings stored")
        await gateway.terminate()
        damage(site.outbox_path)
        await gateway.start()
        await gateway.running()
        trouble = await watcher.event(f"outbox_replaced:{GATEWAY}", "raised")
        await fire_arrives(simulators, watcher, "SD-1F-01")
        await eventually(lambda: len(outbox_rows(site.outbox_path)) > 20, what="stored again")
        await gateway.terminate()
    (kept,) = damaged_copies(tmp_path)
    assert errors(gateway.log_text()) == [
        f"outbox {site.outbox_path}: damaged (file is not a database); kept as {kept}; a fresh "
        "file takes its place"
    ]
    assert trouble["alarm"]["message"].startswith(f"Gateway {GATEWAY} outbox file damaged")
    assert trouble["alarm"]["class"] == "trouble"


async def test_an_outbox_turned_to_garbage_while_running_is_replaced_and_fires_go_on(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    async with clinic(tmp_path, mosquitto) as (site, simulators, watcher, gateway):
        await gateway.start()
        await gateway.running()
        await eventually(lambda: len(outbox_rows(site.outbox_path)) > 20, what="readings stored")
        garbage_file(site.outbox_path)
        await fire_arrives(simulators, watcher, "SD-1F-01")
        await watcher.event(f"outbox_replaced:{GATEWAY}", "raised")
        await eventually(
            lambda: len(outbox_rows(site.outbox_path)) > 20, what="readings in the fresh outbox"
        )
        await fire_arrives(simulators, watcher, "SD-2F-01")
        await gateway.terminate()
    (message,) = errors(gateway.log_text())
    assert message.startswith(f"outbox {site.outbox_path}: damaged (")
    assert damaged_copies(tmp_path)


# 4. The outbox deleted while the gateway runs.


async def test_an_outbox_deleted_while_running_is_noticed_and_replaced(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    async with clinic(tmp_path, mosquitto) as (site, simulators, watcher, gateway):
        await gateway.start()
        await gateway.running()
        await eventually(lambda: len(outbox_rows(site.outbox_path)) > 20, what="readings stored")
        site.outbox_path.unlink()
        await watcher.event(f"outbox_replaced:{GATEWAY}", "raised")
        assert site.outbox_path.exists()
        await eventually(lambda: len(outbox_rows(site.outbox_path)) > 20, what="stored again")
        await fire_arrives(simulators, watcher, "SD-1F-01")
        await gateway.terminate()
    (message,) = errors(gateway.log_text())
    assert re.fullmatch(
        rf"outbox {re.escape(str(site.outbox_path))}: deleted while the gateway ran; a fresh "
        r"file takes its place \(\d+ lines waiting for delivery are lost with it\)",
        message,
    )


# 2. A damaged, emptied or lost alarm store: the latched fire stays on the feed.


def alarm_store_garbage(path: Path) -> None:
    path.write_bytes(os.urandom(16384))


def alarm_store_emptied(path: Path) -> None:
    path.write_bytes(b"")


def alarm_store_deleted(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize(
    "damage",
    [alarm_store_garbage, alarm_store_emptied, alarm_store_deleted],
    ids=["garbage", "emptied", "deleted"],
)
async def test_a_lost_alarm_store_never_erases_the_latched_fire(
    tmp_path: Path, mosquitto: MosquittoServer, damage: Callable[[Path], None]
) -> None:
    async with clinic(tmp_path, mosquitto) as (site, simulators, watcher, gateway):
        topics = FeedTopics.for_site(site)
        fire = topics.alarm("fire:SD-1F-01")
        await gateway.start()
        await gateway.running()
        await fire_arrives(simulators, watcher, "SD-1F-01")
        await simulators.apply("clear", "SD-1F-01")  # the detector clears; the fire is latched
        await watcher.event("fire:SD-1F-01", "returned_to_normal")
        await gateway.terminate()
        damage(site.alarm_store_path)
        seen = len(watcher.messages)
        await gateway.start()
        await gateway.running()
        await watcher.status("online")
        await asyncio.sleep(2)  # several polls, the detector normal
        cleared = [m for m in watcher.messages[seen:] if m.topic == fire and m.payload == b""]
        assert cleared == []
        after = await retained(mosquitto, topics)
        assert after[fire]["needs_person"] is True
        assert after[fire]["latched"] is True
        trouble = await watcher.event(f"alarm_store_replaced:{GATEWAY}", "raised")
        # The gateway knows the fire again: a person acknowledges and resets it.
        acknowledged = await command(
            site, mosquitto, watcher, action="acknowledge", alarm="fire:SD-1F-01"
        )
        assert acknowledged["ok"], acknowledged
        reset = await command(site, mosquitto, watcher, action="reset", alarm="fire:SD-1F-01")
        assert reset["ok"], reset
        await watcher.wait_for(lambda m: m.topic == fire and m.payload == b"")
        await gateway.terminate()
    log = gateway.log_text()
    assert "alarms: 1 taken back from the broker's retained states, which the alarm store" in log
    assert trouble["alarm"]["message"].startswith(f"Gateway {GATEWAY} alarm store damaged")


# 3. A full disk, and one that fails otherwise.


async def test_a_full_disk_raises_trouble_counts_readings_and_keeps_an_acknowledgement(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    with SmallDisk(tmp_path / "disk", size_mb=16) as disk:
        async with clinic(tmp_path, mosquitto, data=disk.path) as (
            site,
            simulators,
            watcher,
            gateway,
        ):
            topics = FeedTopics.for_site(site)
            await gateway.start()
            await gateway.running()
            await watcher.status("online")
            disk.fill()
            trouble = await watcher.event(f"disk_full:{GATEWAY}", "raised")
            await fire_arrives(simulators, watcher, "SD-1F-01")
            reply = await command(
                site, mosquitto, watcher, action="acknowledge", alarm="fire:SD-1F-01"
            )
            assert reply["ok"], reply

            async def counted() -> bool:
                storage = (await retained(mosquitto, topics))[topics.status]["storage"] or {}
                return bool(
                    storage.get("readings_waiting", 0) > 0
                    and storage["alarm_store"]["events_waiting"] > 0
                    and storage["outbox"]["full"]
                    and storage["alarm_store"]["full"]
                )

            await eventually(counted, what="the status counting what waits and what is lost")
            disk.free()
            await watcher.event(f"disk_full:{GATEWAY}", "returned_to_normal")
            await eventually(
                lambda: "storing again, the waiting events are written" in gateway.log_text(),
                what="the acknowledgement written",
            )
            await gateway.terminate()
            seen = len(watcher.messages)
            await gateway.start()
            await gateway.running()
            await asyncio.sleep(3)  # the detector is still in fire
            after = await retained(mosquitto, topics)
            raised_again = [
                m.json
                for m in watcher.messages[seen:]
                if m.topic == topics.events and m.json["alarm_id"] == "fire:SD-1F-01"
            ]
            await gateway.terminate()
    assert after[topics.alarm("fire:SD-1F-01")]["acknowledged_by"] == "al"
    assert raised_again == []
    assert trouble["alarm"]["message"].startswith(f"Gateway {GATEWAY} disk full")
    log = gateway.log_text()
    full = [line for line in errors(log) if "database or disk is full" in line]
    assert len([line for line in full if line.startswith("outbox")]) == 1
    assert len([line for line in full if line.startswith("alarm store")]) == 1
    # The readings waited in memory (far fewer than the writer's 50,000) and were all written.
    assert f"outbox {site.outbox_path}: storing again (0 lines not stored so far) after" in log
    assert "could not be stored" not in log


async def test_a_disk_that_refuses_writes_raises_trouble_and_fires_go_on(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """Writes fail with an I/O error, not for want of space: the stores' database and WAL
    files are made immutable (`chattr +i`, ext4) under the running gateway, as a failing card
    refuses them. Not the -shm: SQLite maps it into memory, and a page it cannot write there
    is a SIGBUS that kills the process (the gateway's service manager must restart it)."""
    async with clinic(tmp_path, mosquitto) as (site, simulators, watcher, gateway):
        await gateway.start()
        await gateway.running()
        await watcher.status("online")
        stores = [
            path
            for store in (site.outbox_path, site.alarm_store_path)
            for path in (store, Path(f"{store}-wal"))
        ]
        immutable(stores, True)
        try:
            trouble = await watcher.event(f"storage_failing:{GATEWAY}", "raised")
            await fire_arrives(simulators, watcher, "SD-1F-01")
        finally:
            immutable(stores, False)
        await watcher.event(f"storage_failing:{GATEWAY}", "returned_to_normal")
        await gateway.terminate()
    assert trouble["alarm"]["message"].startswith(f"Gateway {GATEWAY} cannot write to its disk")
    assert not [line for line in errors(gateway.log_text()) if "damaged" in line]


def immutable(paths: list[Path], on: bool) -> None:
    flag = "+i" if on else "-i"
    done = subprocess.run(
        ["chattr", flag, *map(str, paths)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"chattr {flag} needs root and ext4: {done.stderr}"


# 5. With the stores at their worst, the gateway still starts and raises fires.


async def test_every_store_garbage_at_start_and_the_fire_still_arrives(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    async with clinic(tmp_path, mosquitto) as (site, simulators, watcher, gateway):
        for path in (site.outbox_path, site.alarm_store_path, site.rejected_payloads_path):
            path.write_bytes(os.urandom(20_000))
        await gateway.start()
        await gateway.running()
        await fire_arrives(simulators, watcher, "SD-1F-01")
        await gateway.terminate()
    assert len(errors(gateway.log_text())) == 3
