"""The Modbus driver (TCP and RTU): profiles say how registers map to points; pollers read
them, merging neighbouring registers of all devices polled together into few requests.

The gateway builds `ModbusEndpointSpec`s from its site config and runs a `ModbusDriver`.
"""

from core.reading import ReadingSink
from drivers.modbus.decode import decode_point
from drivers.modbus.derive import derive, derived_readings
from drivers.modbus.link import EndpointStats, PollFailure
from drivers.modbus.merge import ReadBlock, Request, plan_reads, plan_requests
from drivers.modbus.poller import EndpointPoller, ModbusDriver
from drivers.modbus.profile import (
    ByteOrder,
    CurrentLoop,
    DataType,
    DerivedPoint,
    Function,
    ModbusProfile,
    RegisterPoint,
    StateCondition,
)
from drivers.modbus.spec import MERGE_GAP, ModbusDevice, ModbusEndpointSpec, Parity, SerialLine
from drivers.modbus.wire import exchange_time, longest_exchange

__all__ = [
    "MERGE_GAP",
    "ByteOrder",
    "CurrentLoop",
    "DataType",
    "DerivedPoint",
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
    "StateCondition",
    "decode_point",
    "derive",
    "derived_readings",
    "exchange_time",
    "longest_exchange",
    "plan_reads",
    "plan_requests",
]
