"""The console's link to a broker stops when it is told to, even when the stop comes with the
broker's answer (CONNACK, SUBACK), which aiomqtt's `asyncio.wait_for` drops on Python 3.11:
`firegw run --console` runs it in the gateway's process, whose stop waited for it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from drivers.mqtt import BrokerSpec
from firegw.console.board import Board
from firegw.console.feed import FeedLink
from firegw.console.places import Places
from gateway.config import load_site
from tests.drivers.mqtt.test_stopping import StopOnAnswer, run_until_stopped
from tests.servers import MosquittoServer
from tests.sites import clinic_site


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
