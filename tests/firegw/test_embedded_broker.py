"""The demo's embedded broker: Mosquitto when installed, amqtt on a bare machine."""

from __future__ import annotations

import aiomqtt
import pytest

from firegw.embedded_broker import EmbeddedBroker


@pytest.mark.parametrize("use_mosquitto", [True, False], ids=["mosquitto", "amqtt"])
async def test_the_embedded_broker_carries_qos1_and_retained_messages(use_mosquitto: bool) -> None:
    async with EmbeddedBroker(use_mosquitto=use_mosquitto) as broker:
        assert broker.name == ("mosquitto" if use_mosquitto else "amqtt (embedded)")
        async with aiomqtt.Client(broker.host, broker.port) as publisher:
            await publisher.publish("site/status", b"online", qos=1, retain=True)
        async with aiomqtt.Client(broker.host, broker.port) as watcher:
            await watcher.subscribe("site/#", qos=1)
            async with aiomqtt.Client(broker.host, broker.port) as publisher:
                await publisher.publish("site/events", b'{"kind": "raised"}', qos=1)
            received = []
            async for message in watcher.messages:
                received.append((message.topic.value, message.payload, message.retain))
                if len(received) == 2:
                    break
    assert received == [
        ("site/status", b"online", True),
        ("site/events", b'{"kind": "raised"}', False),
    ]
