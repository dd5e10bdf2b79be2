"""The life of an endpoint's connection: waiting for a server that is not there yet, losing
it when the server stops or hangs, and making it again."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from core.reading import Quality
from drivers.modbus.poller import EndpointPoller
from drivers.modbus.tcp import TcpClient
from tests.drivers.modbus.helpers import (
    FIRE,
    TIMEOUT,
    Collector,
    ServerFactory,
    all_good,
    black_hole,
    device,
    endpoint,
    polling,
    tcp_peer,
    unit,
)
from tests.servers import free_port


async def test_waits_for_a_server_that_is_not_there_yet(modbus_server: ServerFactory) -> None:
    port = free_port()
    poller, sink = EndpointPoller(endpoint(port, device("sd-01", 1))), Collector()
    async with polling(poller, sink):
        down = await sink.next("sd-01")
        assert {(r.quality, r.detail) for r in down.values()} == {
            (Quality.DISCONNECTED, f"not connected to 127.0.0.1:{port}")
        }
        await modbus_server({1: unit([FIRE, 0, 0])}, port)
        assert (await sink.next("sd-01", all_good, within=15))["status"].value == "fire"
    assert poller.stats.connect_failures >= 1


async def test_recovers_when_the_server_restarts(modbus_server: ServerFactory) -> None:
    server = await modbus_server({1: unit([FIRE, 0, 0])})
    poller, sink = EndpointPoller(endpoint(server.port, device("sd-01", 1))), Collector()
    async with polling(poller, sink) as task:
        assert all_good(await sink.next("sd-01"))
        await server.stop()
        lost = await sink.next("sd-01", lambda b: not all_good(b))
        assert lost["status"].quality in (Quality.DISCONNECTED, Quality.TIMEOUT)
        assert lost["status"].value is None
        await asyncio.sleep(0.5)
        await server.start()
        back = await sink.next("sd-01", all_good, within=15)
        assert back["status"].value == "fire"
        assert not task.done()
    assert poller.stats.reconnects >= 1


async def test_hung_endpoint_times_out_and_is_reconnected() -> None:
    async with black_hole() as port:
        poller, sink = EndpointPoller(endpoint(port, device("sd-01", 1))), Collector()
        async with polling(poller, sink):
            hung = await sink.next("sd-01")
            assert {(r.quality, r.detail) for r in hung.values()} == {
                (Quality.TIMEOUT, f"no response within {TIMEOUT:g} s")
            }
            await sink.next("sd-01", lambda _: poller.stats.reconnects >= 1, within=20)
            again = await sink.next("sd-01")
            assert again["status"].quality in (Quality.TIMEOUT, Quality.DISCONNECTED)
    assert poller.stats.reconnects >= 1


async def test_a_connection_attempt_that_crashes_is_logged_and_made_again(
    modbus_server: ServerFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = await modbus_server({1: unit([FIRE, 0, 0])})
    connect, crashes = TcpClient.connect, []

    async def crash_once(self: TcpClient) -> bool:
        if not crashes:
            crashes.append(self)
            raise RuntimeError("a bug in connecting")
        return await connect(self)

    monkeypatch.setattr(TcpClient, "connect", crash_once)
    poller, sink = EndpointPoller(endpoint(server.port, device("sd-01", 1))), Collector()
    async with polling(poller, sink) as task:
        assert (await sink.next("sd-01", all_good, within=15))["status"].value == "fire"
        assert not task.done()
    assert crashes
    assert "endpoint panel: connection attempt crashed; retrying with backoff" in caplog.text


@pytest.mark.parametrize("resumes", ["at once", "after the close"])
async def test_a_peer_that_closes_each_connection_at_once_is_tried_again_and_again(
    monkeypatch: pytest.MonkeyPatch, resumes: str
) -> None:
    """A Modbus gateway whose connection slots are all taken accepts and closes at once. The
    endpoint must count as not connected and be tried again with backoff, never be taken as
    up for ever; also when, on a busy loop, the close comes before the connect attempt has
    resumed to see its connection made (its "lost" then came while the link was down)."""
    accepted: list[float] = []
    if resumes == "after the close":
        connect = TcpClient.connect

        async def resume_late(self: TcpClient) -> bool:
            made = await connect(self)
            await asyncio.sleep(0.3)  # the peer's close arrives meanwhile
            return made

        monkeypatch.setattr(TcpClient, "connect", resume_late)

    async def close_at_once(_reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        accepted.append(asyncio.get_running_loop().time())

    async with tcp_peer(close_at_once) as port:
        poller, sink = EndpointPoller(endpoint(port, device("sd-01", 1))), Collector()
        async with polling(poller, sink):
            await sink.next("sd-01", lambda _: len(accepted) >= 3, within=30)
            readings = await sink.next("sd-01")
            assert not poller.connected
            assert {r.quality for r in readings.values()} <= {Quality.DISCONNECTED, Quality.TIMEOUT}
    gaps = [later - earlier for earlier, later in itertools.pairwise(accepted)]
    assert min(gaps) > 0.1, f"reconnected without backoff: {gaps}"
