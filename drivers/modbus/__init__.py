"""The Modbus TCP driver: profiles say how registers map to points; pollers read them.

The gateway builds `ModbusEndpointSpec`s from its site config and runs a `ModbusDriver`.
"""

from drivers.modbus.decode import decode_point
from drivers.modbus.poller import EndpointPoller, EndpointStats, ModbusDriver, PollFailure
from drivers.modbus.profile import (
    ByteOrder,
    CurrentLoop,
    DataType,
    Function,
    ModbusProfile,
    RegisterPoint,
)
from drivers.modbus.spec import ModbusDevice, ModbusEndpointSpec, ReadBlock, plan_reads
from drivers.sink import ReadingSink

__all__ = [
    "ByteOrder",
    "CurrentLoop",
    "DataType",
    "EndpointPoller",
    "EndpointStats",
    "Function",
    "ModbusDevice",
    "ModbusDriver",
    "ModbusEndpointSpec",
    "ModbusProfile",
    "PollFailure",
    "ReadBlock",
    "ReadingSink",
    "RegisterPoint",
    "decode_point",
    "plan_reads",
]
