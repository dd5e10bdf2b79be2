"""The dead-letter store for rejected MQTT payloads: real broker, real driver, real SQLite file."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest

from drivers.mqtt import MqttDevice, MqttDriver, RejectedPayload
from firegw.main import main
from gateway.config import load_site
from gateway.health.rejected import RejectedEntry, RejectedPayloads, read_rejected
from gateway.runtime.gateway import Gateway
from tests.drivers.mqtt.test_subscriber import (
    CAMERA,
    GARBAGE,
    Collector,
    broker_of,
    fps_is,
    health,
    publish,
    running,
    subscribed,
)
from tests.servers import MosquittoServer
from tests.sites import clinic_site, eventually


def topic(name: str) -> str:
    return f"test/{uuid.uuid4().hex}/{name}"


async def kept(
    store: RejectedPayloads, count: int, device: str | None = None
) -> list[RejectedEntry]:
    """Wait until the store holds `count` entries (of `device`); newest first."""
    found: list[RejectedEntry] = []

    async def enough() -> bool:
        nonlocal found
        found = await store.entries(device, limit=1000)
        return len(found) >= count

    await eventually(enough, what=f"{count} rejected payloads kept")
    return found


async def test_garbage_is_kept_with_its_reason(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    cam = topic("cam-01")
    field_error = health(25.0, tamper="yes")
    async with RejectedPayloads(tmp_path / "rejected.sqlite") as store:
        driver = MqttDriver(
            broker_of(mosquitto), [MqttDevice("cam-01", cam, CAMERA)], on_reject=store.add
        )
        sink = Collector()
        async with running(driver, sink) as task:
            await subscribed(mosquitto, cam, sink, 25.0)
            await publish(mosquitto, cam, *GARBAGE, field_error, health(7.5))
            await sink.next(fps_is(7.5))
            entries = await kept(store, len(GARBAGE) + 1)
            assert not task.done()
    assert [(e.device, e.topic) for e in entries] == [("cam-01", cam)] * 6
    assert [e.reason for e in reversed(entries)] == [
        "not JSON: Expecting value at line 1 column 1",
        "expected a JSON object, got array",
        "NaN is not a number JSON allows",
        "payload of 20015 bytes exceeds the 16384 byte limit",
        "not UTF-8: invalid byte at offset 0",
        "field errors: tamper: expected bool, got str",
    ]
    payloads = [(e.payload, e.size) for e in reversed(entries)]
    assert payloads[:3] == [(p, len(p)) for p in GARBAGE[:3]]
    assert payloads[3] == (GARBAGE[3][:4096], 20015)
    assert payloads[4:] == [(b"\xff\xfe\x00", 3), (field_error, len(field_error))]
    assert (driver.stats.rejected, driver.stats.field_errors) == ({"cam-01": 5}, {"cam-01": 1})


async def test_the_bound_holds_oldest_go_first(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    a, b = topic("cam-a"), topic("cam-b")
    devices = [MqttDevice("cam-a", a, CAMERA), MqttDevice("cam-b", b, CAMERA)]
    async with RejectedPayloads(
        tmp_path / "rejected.sqlite", keep_per_device=3, keep_total=5
    ) as store:
        driver, sink = MqttDriver(broker_of(mosquitto), devices, on_reject=store.add), Collector()
        async with running(driver, sink):
            await subscribed(mosquitto, a, sink, 25.0)
            await publish(mosquitto, a, *(f"bad a{n}".encode() for n in range(1, 6)))
            await publish(mosquitto, b, *(f"bad b{n}".encode() for n in range(1, 5)), health(8.0))
            await sink.next(fps_is(8.0))
            await eventually(lambda: store.written == 9, what="all nine written")
        entries = await store.entries(limit=100)
    assert [e.payload for e in entries] == [b"bad b4", b"bad b3", b"bad b2", b"bad a5", b"bad a4"]


async def test_a_failing_handler_never_stops_the_readings(mosquitto: MosquittoServer) -> None:
    cam = topic("cam-09")

    def broken(rejection: RejectedPayload) -> None:
        raise OSError("disk full")

    driver = MqttDriver(broker_of(mosquitto), [MqttDevice("cam-09", cam, CAMERA)], on_reject=broken)
    sink = Collector()
    async with running(driver, sink) as task:
        await subscribed(mosquitto, cam, sink, 25.0)
        await publish(mosquitto, cam, b"garbage", health(4.5))
        await sink.next(fps_is(4.5))
        assert not task.done()
    assert (driver.stats.reject_handler_failures, driver.rejected) == (1, {"cam-09": 1})


async def test_a_full_queue_drops_the_oldest_and_never_blocks(tmp_path: Path) -> None:
    store = RejectedPayloads(tmp_path / "rejected.sqlite", max_waiting=2)
    for n in range(3):  # not open yet: the entries wait
        store.add(RejectedPayload("cam", "t", f"p{n}".encode(), "not JSON", n))
    assert store.dropped == 1
    async with store:
        await store.flush()
        assert [e.payload for e in await store.entries()] == [b"p2", b"p1"]


@pytest.mark.parametrize("bad", [{"keep_per_device": 0}, {"keep_total": 0}])
def test_bounds_must_be_positive(tmp_path: Path, bad: dict[str, int]) -> None:
    name = next(iter(bad))
    with pytest.raises(
        ValueError, match=f"^rejected payload store: {name} must be at least 1, got 0$"
    ):
        RejectedPayloads(tmp_path / "x.sqlite", **bad)


async def test_the_running_gateway_keeps_them_and_the_cli_prints_them(
    tmp_path: Path, mosquitto: MosquittoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    site_file = clinic_site(tmp_path, mqtt_port=mosquitto.port)
    site = load_site(site_file)
    camera = site.devices["CAM-1F-01"]
    where = site.mqtt_topic(camera).topic
    gateway = Gateway(site)
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)
        await eventually(
            lambda: gateway.mqtt_driver is not None and gateway.mqtt_driver.connected,
            what="the gateway subscribed",
        )
        await publish(mosquitto, where, b"camera ok\n", b'{"online": tru')
        path = site.rejected_payloads_path
        await eventually(
            lambda: path.exists() and len(read_rejected(path)) == 2, what="two payloads kept"
        )
        # read-only, while the gateway runs
        code = await asyncio.to_thread(main, ["rejected", str(site_file), "--device", camera.id])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].split() == ["received", "device", "topic", "reason", "payload"]
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    assert [row[1:] for row in rows] == [  # newest first; a newline shown as \n
        ["CAM-1F-01", where, "not JSON: Expecting value at line 1 column 12", '{"online": tru'],
        ["CAM-1F-01", where, "not JSON: Expecting value at line 1 column 1", "camera ok\\n"],
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[0]) for row in rows)


def test_the_cli_says_when_nothing_was_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site_file = clinic_site(tmp_path, mqtt_port=1883)
    assert main(["rejected", str(site_file)]) == 0
    path = load_site(site_file).rejected_payloads_path
    assert capsys.readouterr().out == (
        f"no rejected payloads: {path} does not exist (nothing rejected yet)\n"
        "(a device whose topic in the site file is not the one it publishes on receives "
        "nothing to reject: firegw status shows it lost, with the topic it waits on)\n"
    )


async def test_full_prints_each_payload_as_kept_and_says_what_was_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site_file = clinic_site(tmp_path, mqtt_port=1883)
    path = load_site(site_file).rejected_payloads_path
    async with RejectedPayloads(path, max_payload_bytes=10) as store:
        store.add(
            RejectedPayload(
                "CAM-2F-01",
                "demo/nvr/CAM-2F-01/health",
                b"\x01abc\xffdefghijk",
                "not UTF-8: invalid byte at offset 4",
                1_700_000_000 * 10**9,
            )
        )
    code = await asyncio.to_thread(main, ["rejected", str(site_file), "--full"])
    assert code == 0
    heading, *rest = capsys.readouterr().out.splitlines()
    assert heading.endswith("  CAM-2F-01  on demo/nvr/CAM-2F-01/health")
    assert rest == [
        "  reason:  not UTF-8: invalid byte at offset 4",
        "  payload: \\x01abc\\xffdefgh ... (13 bytes received, first 10 kept)",
    ]
