"""The MQTT driver stops when it is told to, even when the stop comes with the broker's answer.

aiomqtt waits for CONNACK and SUBACK with `asyncio.wait_for`, which on Python 3.11 returns
the answer and drops the cancellation when the two come in the same turn of the event loop.
The driver then went on receiving, and held up the gateway's stop (SIGTERM) until the broker
connection happened to drop. Real Mosquitto; the stop is timed by the library's own log line
for the answer (paho logs it just before handing the answer on).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from drivers.mqtt import BrokerSpec, MqttDevice, MqttDriver
from tests.drivers.mqtt.test_subscriber import CAMERA, Collector
from tests.servers import MosquittoServer

SUBSCRIBER_LOG = "drivers.mqtt.subscriber"  # where the driver passes the library's words on


class StopOnAnswer(logging.Handler):
    """Cancels `task` in the turn of the event loop in which the broker's `answer` arrives."""

    def __init__(self, answer: str) -> None:
        super().__init__(logging.DEBUG)
        self.answer = answer
        self.task: asyncio.Task[None] | None = None
        self.fired = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.task is not None and not self.fired and self.answer in record.getMessage():
            self.fired = True
            asyncio.get_running_loop().call_soon(self.task.cancel)


@contextmanager
def stop_on(answer: str, log: str = SUBSCRIBER_LOG) -> Iterator[StopOnAnswer]:
    """A `StopOnAnswer` listening to `log`, the logger a client passes the library's words on
    to (at debug level, which it turns on meanwhile)."""
    logger = logging.getLogger(log)
    handler, level = StopOnAnswer(answer), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def run_until_stopped(
    stop: StopOnAnswer, work: Coroutine[Any, Any, None]
) -> tuple[asyncio.Task[None], bool]:
    """Run `work` as the task `stop` cancels; the task, and whether it ended within 10 s (it
    is cancelled a second time after, so that a run that went on ends too)."""
    task = stop.task = asyncio.create_task(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return task, bool(done)


@pytest.mark.parametrize("answer", ["Received CONNACK", "Received SUBACK"])
async def test_a_stop_that_comes_with_the_brokers_answer_ends_the_driver(
    mosquitto: MosquittoServer, answer: str
) -> None:
    device = MqttDevice("cam-stop", f"test/{uuid.uuid4().hex}/health", CAMERA)
    driver = MqttDriver(BrokerSpec(host=mosquitto.host, port=mosquitto.port), [device])
    with stop_on(answer) as stop:
        task, done = await run_until_stopped(stop, driver.run(Collector()))
    assert stop.fired, f"the broker's {answer} never came"
    assert done, f"the driver went on receiving after a stop that came with the {answer}"
    assert task.cancelled()
