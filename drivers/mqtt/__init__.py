"""The MQTT driver: profiles say how JSON fields map to points; the subscriber receives them.

The gateway builds a `BrokerSpec` and `MqttDevice`s from its site config and runs an
`MqttDriver`.
"""

from drivers.mqtt.decode import PayloadError, PointResult, decode_payload
from drivers.mqtt.profile import FieldPoint, FieldType, MqttProfile
from drivers.mqtt.subscriber import BrokerSpec, MqttDevice, MqttDriver, MqttStats
from drivers.sink import ReadingSink

__all__ = [
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
    "decode_payload",
]
