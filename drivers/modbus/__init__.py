"""The Modbus driver (TCP and RTU): profiles say how registers map to points; pollers read
them, merging neighbouring registers of all devices polled together into few requests.

The gateway builds `ModbusEndpointSpec`s from its site config and runs a `ModbusDriver`.
"""

from drivers.modbus.poller import ModbusDriver
from drivers.modbus.profile import (
    ByteOrder,
    DataType,
    DerivedPoint,
    Function,
    ModbusProfile,
    RegisterPoint,
)
from drivers.modbus.spec import MERGE_GAP, ModbusDevice, ModbusEndpointSpec, Parity, SerialLine
from drivers.modbus.wire import longest_exchange

__all__ = [
    "MERGE_GAP",
    "ByteOrder",
    "DataType",
    "DerivedPoint",
    "Function",
    "ModbusDevice",
    "ModbusDriver",
    "ModbusEndpointSpec",
    "ModbusProfile",
    "Parity",
    "RegisterPoint",
    "SerialLine",
    "longest_exchange",
]
