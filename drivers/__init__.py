"""Protocol drivers: Modbus and MQTT in, typed `Reading`s out.

Drivers know protocols, not fire safety.
"""

from drivers.reading import Quality, Reading, Value, now_ns

__all__ = ["Quality", "Reading", "Value", "now_ns"]
