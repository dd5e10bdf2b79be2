"""The MQTT driver: profiles say how JSON fields map to points; the subscriber receives them.

The gateway builds a `BrokerSpec` and `MqttDevice`s (each on an exact topic or a topic
template with a `{device}` level) from its site config and runs an `MqttDriver`.
"""

from drivers.mqtt.failures import LibraryLog, describe_failure
from drivers.mqtt.profile import FieldPoint, FieldType, MqttProfile
from drivers.mqtt.rejects import RejectedPayload
from drivers.mqtt.routing import MqttDevice
from drivers.mqtt.session import connected
from drivers.mqtt.subscriber import BrokerSpec, MqttDriver
from drivers.mqtt.topics import PLACEHOLDER, fill_template, key_problem, overlap, topic_problem

__all__ = [
    "PLACEHOLDER",
    "BrokerSpec",
    "FieldPoint",
    "FieldType",
    "LibraryLog",
    "MqttDevice",
    "MqttDriver",
    "MqttProfile",
    "RejectedPayload",
    "connected",
    "describe_failure",
    "fill_template",
    "key_problem",
    "overlap",
    "topic_problem",
]
