"""The console's link to a broker stops when it is told to, even when the stop comes with the
broker's answer (CONNACK, SUBACK), which aiomqtt's `asyncio.wait_for` drops on Python 3.11:
`firegw run --console` runs it in the gateway's process, whose stop waited for it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from core import supervise
from drivers.mqtt import BrokerSpec
from firegw.console.board import Board
from firegw.console.feed import FeedLink
from firegw.console.places import Places
from gateway.config import load_site
from tests.drivers.mqtt.test_stopping import StopOnAnswer, run_until_stopped
from tests.servers import MosquittoServer
from tests.sites import clinic_site, eventually


@pytest.mark.parametrize("answer", ["Received CONNACK", "Received SUBACK"])
async def test_a_stop_that_comes_with_the_brokers_answer_ends_the_link(
    tmp_path: Path, mosquitto: MosquittoServer, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    site = load_site(clinic_site(tmp_path, mqtt_port=mosquitto.port))
    places = Places([site])
    stop = StopOnAnswer(answer)
    library = logging.Logger("test.console.paho")  # the library's words, to time the stop by
    library.addHandler(stop)
    client = BrokerSpec.client

    def heard(spec: BrokerSpec, **options: Any) -> aiomqtt.Client:
        return client(spec, logger=library, **options)

    monkeypatch.setattr(BrokerSpec, "client", heard)
    link = FeedLink(site.broker("firegw-console-stop"), list(places.sites.values()), Board(places))
    task, done = await run_until_stopped(stop, link.run())
    assert stop.fired, f"the broker's {answer} never came"
    assert done, f"the console's link went on after a stop that came with the {answer}"
    assert task.cancelled()


class _FailsOnce(Board):
    """A board whose first `end_rebuild` raises, as a bug in it would."""

    def __init__(self, places: Places) -> None:
        super().__init__(places)
        self.rebuilt = 0

    def end_rebuild(self, sites: Iterable[str]) -> None:
        self.rebuilt += 1
        if self.rebuilt == 1:
            raise RuntimeError("a bug in settling")
        super().end_rebuild(sites)


async def test_a_bug_in_settling_is_logged_and_the_link_starts_again(
    tmp_path: Path, mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The settling after a (re)connect runs beside the link's receiving: a crash in it is not
    lost in a task nobody awaits, it ends the connection and the link is supervised."""
    site = load_site(clinic_site(tmp_path, mqtt_port=mosquitto.port))
    places = Places([site])
    board = _FailsOnce(places)
    link = FeedLink(
        site.broker("firegw-console-settle"),
        list(places.sites.values()),
        board,
        settle=0.2,
        reconnect_initial=0.1,
    )
    running = asyncio.create_task(supervise("console feed test", link.run, first_delay=0.1))
    try:
        await eventually(lambda: board.rebuilt >= 2, within=30, what="a second rebuild")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert "task console feed test crashed" in caplog.text
    assert "a bug in settling" in caplog.text
