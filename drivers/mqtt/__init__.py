"""The MQTT driver: profiles say how JSON fields map to points; the subscriber receives them.

The gateway builds a `BrokerSpec` and `MqttDevice`s (each on an exact topic or a topic
template with a `{device}` level) from its site config and runs an `MqttDriver`.
"""

from core.reading import ReadingSink
from drivers.mqtt.decode import PayloadError, PointResult, decode_payload
from drivers.mqtt.profile import FieldPoint, FieldType, MqttProfile
from drivers.mqtt.rejects import RejectedPayload, RejectHandler
from drivers.mqtt.routing import MqttDevice, TopicRouter
from drivers.mqtt.subscriber import BrokerSpec, MqttDriver, MqttStats
from drivers.mqtt.topics import (
    PLACEHOLDER,
    TopicTemplate,
    fill_template,
    key_problem,
    topic_problem,
)

__all__ = [
    "PLACEHOLDER",
    "BrokerSpec",
    "FieldPoint",
    "FieldType",
    "MqttDevice",
    "MqttDriver",
    "MqttProfile",
    "MqttStats",
    "PayloadError",
    "PointResult",
    "ReadingSink",
    "RejectHandler",
    "RejectedPayload",
    "TopicRouter",
    "TopicTemplate",
    "decode_payload",
    "fill_template",
    "key_problem",
    "topic_problem",
]
