"""How long a Modbus RTU read takes on the wire, so a timeout that can never be met is refused.

A read of N registers is an 8-byte request and a (5 + 2N)-byte response (N/8 bytes for coils
and discrete inputs), each character `1 + bytesize + parity bit + stopbits` bits, and each frame
preceded by a silence of 3.5 characters (Modbus over Serial Line V1.02, 2.5.1.1). At 9600 baud
8E1 a full 125-register read takes about 0.31 s before the device has even thought about it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from drivers.modbus.merge import Request, plan_requests
from drivers.modbus.spec import MERGE_GAP, ModbusDevice, Parity, SerialLine

__all__ = ["exchange_time", "longest_exchange"]

_REQUEST_BYTES = 8
_RESPONSE_OVERHEAD = 5  # unit, function, byte count, two CRC bytes
_SILENCE_CHARS = 3.5


def exchange_time(line: SerialLine, request: Request) -> float:
    """Seconds the request and its full response occupy the line, silences included."""
    data = (request.count + 7) // 8 if request.function.is_bit else 2 * request.count
    characters = _REQUEST_BYTES + _RESPONSE_OVERHEAD + data + 2 * _SILENCE_CHARS
    bits = 1 + line.bytesize + (line.parity is not Parity.NONE) + line.stopbits
    return characters * bits / line.baudrate


def longest_exchange(
    line: SerialLine, devices: Iterable[ModbusDevice], merge_gap: int = MERGE_GAP
) -> tuple[float, Request | None]:
    """The slowest read the poller will send on `line`, planned as it plans them (the devices
    of one poll interval together), and its time on the wire; (0.0, None) without devices."""
    groups: dict[float, list[ModbusDevice]] = defaultdict(list)
    for device in devices:
        groups[device.poll_interval].append(device)
    requests = [r for group in groups.values() for r in plan_requests(group, merge_gap)]
    if not requests:
        return 0.0, None
    slowest = max(requests, key=lambda request: exchange_time(line, request))
    return exchange_time(line, slowest), slowest
