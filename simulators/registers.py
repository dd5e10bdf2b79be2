"""Encoding a point's value into the registers (or the bit) a device would serve.

Written from the profile format alone, with `struct`, and never from the gateway's decoder: a
test that reads the simulator through the gateway then checks two independent readings of the
same profile. The value given is in engineering units, except for a current-loop point, where
it is the loop current in mA (the transmitter's output; the module only digitises it).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Literal

from core import Value
from drivers.modbus import ByteOrder, DataType, RegisterPoint

_FORMATS = {
    DataType.BOOL: "H",  # a bool in a register is a bit field of a 16-bit word
    DataType.U16: "H",
    DataType.I16: "h",
    DataType.U32: "I",
    DataType.I32: "i",
    DataType.U64: "Q",
    DataType.I64: "q",
    DataType.F32: "f",
    DataType.F64: "d",
}
_UNSIGNED = {1: "H", 2: "I", 4: "Q"}
_LOW_WORD_FIRST = frozenset({ByteOrder.CDAB, ByteOrder.DCBA})
_BYTES_SWAPPED = frozenset({ByteOrder.BADC, ByteOrder.DCBA})


class EncodeError(ValueError):
    """A value the point cannot carry: out of its type's range, or not in its enum table."""

    def __init__(self, point: RegisterPoint, message: str) -> None:
        self.point = point
        super().__init__(f"point {point.name!r}: {message}")


def encode(point: RegisterPoint, value: Value, current: Sequence[int] | None = None) -> list[int]:
    """The registers of `point` holding `value` (or `[0]`/`[1]` for a coil or input bit).

    A bit-field point changes only its own bits: `current` holds the registers as they are
    (other points' bits), zeros if not given.
    """
    if point.function.is_bit:
        return [int(_truth(point, value))]
    raw = _raw(point, value)
    if point.bits is not None:
        return _merge_bits(point, raw, current or [0] * point.count)
    return pack(point.type, point.order, _checked(point, raw))


def pack(kind: DataType, order: ByteOrder, number: int | float) -> list[int]:
    """`number` as registers of `kind`, in `order`; raises `struct.error` if it does not fit."""
    data = struct.pack(f">{_FORMATS[kind]}", number)
    return _to_words(data, order)


def unpack_unsigned(words: Sequence[int], order: ByteOrder) -> int:
    """The registers as one unsigned number, undoing `order` (the inverse of packing)."""
    ordered = list(reversed(words)) if order in _LOW_WORD_FIRST else list(words)
    byteorder: Literal["little", "big"] = "little" if order in _BYTES_SWAPPED else "big"
    return int.from_bytes(b"".join(w.to_bytes(2, byteorder) for w in ordered), "big")


def _to_words(data: bytes, order: ByteOrder) -> list[int]:
    byteorder: Literal["little", "big"] = "little" if order in _BYTES_SWAPPED else "big"
    words = [int.from_bytes(data[i : i + 2], byteorder) for i in range(0, len(data), 2)]
    return words[::-1] if order in _LOW_WORD_FIRST else words


def _truth(point: RegisterPoint, value: Value) -> bool:
    if not isinstance(value, bool | int):
        raise EncodeError(point, f"expected a bool, got {value!r}")
    return bool(value)


def _raw(point: RegisterPoint, value: Value) -> int | float:
    """Undo the profile's enum, or its scale and offset: engineering value -> raw number."""
    if point.enum is not None:
        return _code(point, value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        raise EncodeError(point, f"expected a number, got {value!r}")
    if point.scale is None and point.offset is None:
        return value
    raw = (value - (point.offset or 0.0)) / (1.0 if point.scale is None else point.scale)
    return raw if point.type in (DataType.F32, DataType.F64) else _round(point, raw)


def _code(point: RegisterPoint, value: Value) -> int:
    codes = {name: code for code, name in (point.enum or {}).items()}
    if not isinstance(value, str) or value not in codes:
        raise EncodeError(point, f"no enum code for {value!r}")
    return codes[value]


def _round(point: RegisterPoint, raw: float) -> int:
    if not math.isfinite(raw):
        raise EncodeError(point, f"cannot encode {raw!r} as {point.type}")
    return round(raw)


def _checked(point: RegisterPoint, raw: int | float) -> int | float:
    if point.type in (DataType.F32, DataType.F64):
        return float(raw)
    number = _round(point, raw) if isinstance(raw, float) else raw
    fmt = _FORMATS[point.type]
    bits = 8 * struct.calcsize(fmt)
    low, high = (0, 2**bits - 1) if fmt.isupper() else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if not low <= number <= high:
        raise EncodeError(point, f"raw value {number} does not fit a {point.type}")
    return number


def _merge_bits(point: RegisterPoint, raw: int | float, current: Sequence[int]) -> list[int]:
    """Write `raw` into the point's bit range of the registers, keeping every other bit."""
    low, high = point.bits or (0, 0)
    width = high - low + 1
    field = _round(point, raw) if isinstance(raw, float) else raw
    if not 0 <= field < 2**width:
        raise EncodeError(point, f"raw value {field} does not fit bits {low}-{high}")
    if len(current) != point.count:
        raise EncodeError(point, f"expected {point.count} current registers, got {len(current)}")
    mask = (2**width - 1) << low
    whole = (unpack_unsigned(current, point.order) & ~mask) | (field << low)
    data = struct.pack(f">{_UNSIGNED[point.count]}", whole)
    return _to_words(data, point.order)
