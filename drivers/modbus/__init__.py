"""The Modbus driver (TCP and RTU): profiles say how registers map to points; pollers read
them, merging neighbouring registers of all devices polled together into few requests.

The gateway builds `ModbusEndpointSpec`s from its site config and runs a `ModbusDriver`.
"""

from drivers.modbus.decode import decode_point
from drivers.modbus.link import EndpointStats, PollFailure
from drivers.modbus.merge import ReadBlock, Request, plan_reads, plan_requests
from drivers.modbus.poller import EndpointPoller, ModbusDriver
from drivers.modbus.profile import (
    ByteOrder,
    CurrentLoop,
    DataType,
    Function,
    ModbusProfile,
    RegisterPoint,
)
from drivers.modbus.spec import MERGE_GAP, ModbusDevice, ModbusEndpointSpec, Parity, SerialLine
from drivers.sink import ReadingSink

__all__ = [
    "MERGE_GAP",
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
    "Parity",
    "PollFailure",
    "ReadBlock",
    "ReadingSink",
    "RegisterPoint",
    "Request",
    "SerialLine",
    "decode_point",
    "plan_reads",
    "plan_requests",
]
