"""The alarm feed's connection stops when it is cancelled, even when the cancellation comes
with the broker's answer (CONNACK, SUBACK, PUBACK), which aiomqtt's `asyncio.wait_for` drops
on Python 3.11. Closing cancels it after the drain and its grace: it must then end, not go
on publishing until aiomqtt's own 10 s timeout. Real Mosquitto."""

from __future__ import annotations

import asyncio

import pytest

from tests.drivers.mqtt.test_stopping import stop_on
from tests.gateway.alarms.test_feed import running_feed
from tests.mqtt_watch import unique_topics
from tests.servers import MosquittoServer


@pytest.mark.parametrize("answer", ["Received CONNACK", "Received SUBACK", "Received PUBACK"])
async def test_a_cancellation_that_comes_with_the_brokers_answer_ends_the_feed(
    mosquitto: MosquittoServer, answer: str
) -> None:
    with stop_on(answer, log="gateway.alarms.feed") as stop:
        async with running_feed(mosquitto.host, mosquitto.port, unique_topics()) as feed:
            runner = feed._runner
            assert runner is not None
            stop.task = runner
            feed.start()
            done, _ = await asyncio.wait({runner}, timeout=10)
            runner.cancel()  # a second cancellation, so that a failed run ends too
    assert stop.fired, f"the broker's {answer} never came"
    assert done, f"the feed went on after a cancellation that came with the {answer}"
    assert runner.cancelled()
