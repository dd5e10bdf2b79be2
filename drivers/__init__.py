"""Protocol drivers: Modbus (`drivers.modbus`) and MQTT (`drivers.mqtt`) in, typed readings out.

Drivers know protocols, not fire safety. Each is a package with its config models (device
profiles), its decoding, a README of its profile format, and a driver class that keeps the
`Driver` promise: it runs until cancelled and hands every device's readings to a
`core.ReadingSink`.
"""

from drivers.driver import Driver

__all__ = ["Driver"]
