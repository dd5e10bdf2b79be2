"""Turning the raw registers or bits of one point into a typed value, as its profile says.

Decoding never raises for bad data: a value the device should not send (a NaN, an enum code
the profile does not know, a 4-20 mA loop current outside the NAMUR NE 43 band) becomes a bad
quality with a detail naming the cause, because the rules must see such readings too.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

from core import Quality, Value
from drivers.modbus.profile import ByteOrder, CurrentLoop, DataType, RegisterPoint

Decoded = tuple[Value | None, Quality, str | None]

_FORMATS = {
    DataType.BOOL: ">H",
    DataType.U16: ">H",
    DataType.I16: ">h",
    DataType.U32: ">I",
    DataType.I32: ">i",
    DataType.U64: ">Q",
    DataType.I64: ">q",
    DataType.F32: ">f",
    DataType.F64: ">d",
}
_WORDS_REVERSED = frozenset({ByteOrder.CDAB, ByteOrder.DCBA})
_BYTES_SWAPPED = frozenset({ByteOrder.BADC, ByteOrder.DCBA})


def decode_point(point: RegisterPoint, words: Sequence[int] | Sequence[bool]) -> Decoded:
    """Decode one point from exactly the registers (or the one bit) it occupies.

    Returns (value, quality, detail): a good value with quality GOOD and detail None, or
    value None with the bad quality and a detail such as "unknown code 7".
    """
    if len(words) != point.count:
        unit = "bit" if point.function.is_bit else "register"
        return _bad(Quality.DECODE_ERROR, f"expected {point.count} {unit}(s), got {len(words)}")
    if point.function.is_bit:
        return bool(words[0]), Quality.GOOD, None
    if any(not 0 <= int(word) <= 0xFFFF for word in words):
        return _bad(Quality.DECODE_ERROR, f"register value out of range: {list(words)}")
    raw = registers_to_bytes([int(word) for word in words], point.order)
    if point.bits is not None:
        return _from_bit_field(point, int.from_bytes(raw, "big"))
    (number,) = struct.unpack(_FORMATS[point.type], raw)
    return _engineering(point, number)


def registers_to_bytes(words: Sequence[int], order: ByteOrder) -> bytes:
    """The value's bytes most significant first (A-B-C-D...), undoing the device's order.

    CDAB and DCBA send the least significant word first; BADC and DCBA swap the two bytes
    inside each word. The same rule covers 16-, 32- and 64-bit values.
    """
    ordered = list(reversed(words)) if order in _WORDS_REVERSED else list(words)
    swapped = order in _BYTES_SWAPPED
    return b"".join(word.to_bytes(2, "little" if swapped else "big") for word in ordered)


def _from_bit_field(point: RegisterPoint, raw: int) -> Decoded:
    """Extract the inclusive bit range of the raw value, shifted down to bit 0."""
    low, high = point.bits or (0, 0)
    field = (raw >> low) & ((1 << (high - low + 1)) - 1)
    if point.type is DataType.BOOL:
        return field != 0, Quality.GOOD, None
    return _engineering(point, field)


def _engineering(point: RegisterPoint, number: int | float) -> Decoded:
    """Apply the profile's enum table, or its scale and offset and current loop."""
    if isinstance(number, float) and not math.isfinite(number):
        return _bad(Quality.DECODE_ERROR, f"not a finite number: {number}")
    if point.enum is not None:
        return _state(point.enum, number)
    value: int | float = number
    if point.scale is not None or point.offset is not None:
        value = number * (1.0 if point.scale is None else point.scale) + (point.offset or 0.0)
    if point.current_loop is not None:
        return _current_loop(point.current_loop, float(value))
    return value, Quality.GOOD, None


def _state(table: dict[int, str], number: int | float) -> Decoded:
    """Look the raw code up in the enum table; a code the profile does not know is an error."""
    code = int(number) if isinstance(number, float) and number.is_integer() else number
    name = table.get(code) if isinstance(code, int) else None
    if name is None:
        return _bad(Quality.DECODE_ERROR, f"unknown code {code}")
    return name, Quality.GOOD, None


def _current_loop(loop: CurrentLoop, milliamps: float) -> Decoded:
    """Map 4-20 mA linearly onto low..high; outside the fault limits it is no measurement."""
    if not loop.fault_below_ma <= milliamps <= loop.fault_above_ma:
        detail = f"loop current {milliamps:.2f} mA (NAMUR NE 43 sensor fault)"
        return _bad(Quality.OUT_OF_RANGE, detail)
    value = loop.low + (milliamps - 4.0) * (loop.high - loop.low) / 16.0
    return value, Quality.GOOD, None


def _bad(quality: Quality, detail: str) -> Decoded:
    return None, quality, detail
