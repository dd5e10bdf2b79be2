"""The demo's embedded broker: Mosquitto when installed, amqtt on a bare machine."""

from __future__ import annotations

import socket

import aiomqtt
import pytest

from firegw.embedded_broker import EPHEMERAL_RANGE, EmbeddedBroker, free_port


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


def test_free_ports_are_below_the_range_other_programs_connect_from() -> None:
    low = int(EPHEMERAL_RANGE.read_text().split()[0])
    ports = {free_port() for _ in range(50)}
    assert all(port < low for port in ports)
    assert len(ports) > 40  # picked at random, not one after the other
    with socket.socket() as listener:  # and free: a simulator can listen on it
        listener.bind(("127.0.0.1", ports.pop()))
        listener.listen()
