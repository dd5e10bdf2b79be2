"""Why a broker connection failed, in words: a refused login is named only for a refused
connect, not for a publish on a connection that has just gone (paho's "not connected" is 4 too).
"""

from __future__ import annotations

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from drivers.mqtt import BrokerSpec, describe_failure

BROKER = BrokerSpec("broker.st-lukes.local", 1883, username="firegw-opd")


def test_a_refused_connect_names_the_login() -> None:
    refused = MqttConnectError(4)
    assert describe_failure(refused, BROKER) == (
        "broker broker.st-lukes.local:1883 refused the login of user 'firegw-opd' "
        "(bad user name or password)"
    )


def test_a_publish_on_a_lost_connection_is_not_a_refused_login() -> None:
    """Before: the feed logged "refused the login of an anonymous client" after a restart."""
    lost = aiomqtt.MqttCodeError(4, "Could not publish message")
    assert describe_failure(lost, BROKER) == (
        "broker broker.st-lukes.local:1883 unavailable "
        "([code:4] The client is not currently connected.)"
    )
