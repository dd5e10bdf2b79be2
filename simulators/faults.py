"""The faults a simulated device can be put into, what each one takes, and who may take it.

The same check serves the control server, the scenario loader and in-process callers, so a
scenario step that could never be applied is rejected when the file is loaded, not at 45 s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from gateway.config import Device, ModbusSource
from rules import DeviceKind


class Fault(StrEnum):
    """Everything the control interface can do to a device; `clear` undoes all of it."""

    FIRE = "fire"
    PRE_ALARM = "pre_alarm"
    DETECTOR_FAULT = "detector_fault"
    ISOLATE = "isolate"
    MAINTENANCE = "maintenance"
    PRESSURE_DROP = "pressure_drop"
    SENSOR_FAULT = "sensor_fault"
    CAMERA_OFFLINE = "camera_offline"
    NOT_RECORDING = "not_recording"
    TAMPER = "tamper"
    VIDEO_LOSS = "video_loss"
    SILENT = "silent"
    EXCEPTION = "exception"
    GARBAGE = "garbage"
    CLEAR = "clear"


class LinkFault(StrEnum):
    """A fault of the device's communication rather than of what it measures."""

    SILENT = "silent"
    EXCEPTION = "exception"
    GARBAGE = "garbage"


class FaultError(ValueError):
    """A fault request that cannot be applied; the message says why, naming the device."""


KIND_FAULTS: dict[DeviceKind, frozenset[Fault]] = {
    DeviceKind.SMOKE_DETECTOR: frozenset(
        {Fault.FIRE, Fault.PRE_ALARM, Fault.DETECTOR_FAULT, Fault.ISOLATE, Fault.MAINTENANCE}
    ),
    DeviceKind.HYDRANT_PRESSURE: frozenset({Fault.PRESSURE_DROP, Fault.SENSOR_FAULT}),
    DeviceKind.CAMERA: frozenset(
        {Fault.CAMERA_OFFLINE, Fault.NOT_RECORDING, Fault.TAMPER, Fault.VIDEO_LOSS}
    ),
}

FAULT_ARGS: dict[Fault, dict[str, type]] = {
    Fault.PRESSURE_DROP: {"to": float, "rate": float},
    Fault.SENSOR_FAULT: {"ma": float},
    Fault.EXCEPTION: {"code": int},
}
"""Optional arguments per fault: pressure_drop `to` (MPa, default 0.05) and `rate` (MPa/min,
default 0.5); sensor_fault `ma` (loop current, default 2.0); exception `code` (Modbus
exception code, default 4, device failure)."""

MODBUS_EXCEPTION_CODES = frozenset({1, 2, 3, 4, 5, 6, 8, 10, 11})


def check_fault(
    device: Device, fault: str, args: Mapping[str, Any]
) -> tuple[Fault, dict[str, Any]]:
    """Validate a fault request for one configured device; returns the fault and typed args.

    Raises `FaultError` for an unknown fault, one that does not fit the device's kind or
    protocol, or an unknown or badly typed argument.
    """
    try:
        kind = Fault(fault)
    except ValueError:
        raise FaultError(f"unknown fault {fault!r}") from None
    if not _applies(kind, device):
        raise FaultError(f"fault {kind} does not apply to {device.kind} {device.id!r}")
    return kind, _typed_args(kind, args)


def _applies(fault: Fault, device: Device) -> bool:
    modbus = isinstance(device.source, ModbusSource)
    if fault in (Fault.CLEAR, Fault.SILENT):
        return True
    if fault is Fault.EXCEPTION:
        return modbus
    if fault is Fault.GARBAGE:
        return not modbus
    return fault in KIND_FAULTS[device.kind]


def _typed_args(fault: Fault, args: Mapping[str, Any]) -> dict[str, Any]:
    allowed = FAULT_ARGS.get(fault, {})
    typed: dict[str, Any] = {}
    for name, value in args.items():
        wanted = allowed.get(name)
        if wanted is None:
            raise FaultError(f"fault {fault} takes no argument {name!r}")
        typed[name] = _typed(fault, name, value, wanted)
    if fault is Fault.EXCEPTION and typed.get("code", 4) not in MODBUS_EXCEPTION_CODES:
        raise FaultError(f"exception code {typed['code']} is not a Modbus exception code")
    return typed


def _typed(fault: Fault, name: str, value: Any, wanted: type) -> float | int:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if not numeric or (wanted is int and not float(value).is_integer()):
        raise FaultError(f"fault {fault} argument {name!r} must be a number, got {value!r}")
    if not math.isfinite(value) or (name in ("to", "rate", "ma") and value < 0):
        raise FaultError(f"fault {fault} argument {name!r} is out of range: {value!r}")
    if name == "rate" and value == 0:
        raise FaultError(f"fault {fault} argument 'rate' must be above 0")
    return wanted(value)  # type: ignore[no-any-return]
