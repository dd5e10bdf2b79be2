"""Turning one MQTT JSON payload into per-point values, as the device's profile says.

Two kinds of trouble are kept apart. A payload that cannot be used at all (not UTF-8, not
JSON, not an object, too large, NaN literals) raises `PayloadError`: it says nothing about the
device's points, so it is counted and logged, not stored. A usable document with one bad field
gives that one point a DECODE_ERROR reading and the other points their values.
"""

from __future__ import annotations

import math
from typing import Any

from core import FiregwError, JsonError, Quality, Value, parse_json
from drivers.mqtt.profile import FieldPoint, FieldType, MqttProfile

PointResult = tuple[str, Value | None, Quality, str | None]
"""(point name, value, quality, detail) for one point of the profile."""

_MISSING = object()
_JSON_NAMES = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    type(None): "null",
    dict: "object",
    list: "array",
}


class PayloadError(FiregwError, ValueError):
    """A payload that cannot be decoded at all; `reason` says why, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_payload(profile: MqttProfile, payload: bytes) -> list[PointResult]:
    """Decode a payload into one result per point, in profile order.

    A missing optional field (or an optional field that is null) gives no result at all.

    Raises:
        PayloadError: the payload is not a UTF-8 JSON object within `max_payload_bytes`.
    """
    document = parse_document(payload, profile.max_payload_bytes)
    results = (_decode_point(point, document) for point in profile.points)
    return [result for result in results if result is not None]


def parse_document(payload: bytes, max_bytes: int) -> dict[str, Any]:
    """The payload as a JSON object, or PayloadError naming what is wrong with it."""
    if len(payload) > max_bytes:
        raise PayloadError(f"payload of {len(payload)} bytes exceeds the {max_bytes} byte limit")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not UTF-8: invalid byte at offset {exc.start}") from exc
    try:
        document = parse_json(text)
    except JsonError as exc:
        raise PayloadError(f"not JSON: {exc.reason}" if exc.syntax else exc.reason) from exc
    if not isinstance(document, dict):
        raise PayloadError(f"expected a JSON object, got {_json_name(document)}")
    return document


def _decode_point(point: FieldPoint, document: dict[str, Any]) -> PointResult | None:
    raw = _lookup(document, point.keys)
    if raw is _MISSING or raw is None:
        if not point.required:
            return None
        if raw is _MISSING:
            return point.name, None, Quality.DECODE_ERROR, f"missing field {point.path}"
    value, detail = _typed(point, raw)
    if detail is not None:
        return point.name, None, Quality.DECODE_ERROR, detail
    return point.name, value, Quality.GOOD, None


def _lookup(document: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The value at a dotted path, or _MISSING when any step of the path is absent."""
    node: Any = document
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _typed(point: FieldPoint, raw: Any) -> tuple[Value | None, str | None]:
    """Check the JSON type, then apply the enum table or the scale: (value, error detail)."""
    if not _has_type(raw, point.type):
        return None, f"expected {point.type}, got {_json_name(raw)}"
    if point.enum is not None:
        state = point.enum.get(raw)
        return (state, None) if state is not None else (None, f"unknown value {raw!r}")
    if point.type is FieldType.FLOAT or point.scale is not None:
        return _number(raw, point.scale)
    if point.type is FieldType.INT and not -(2**63) <= raw < 2**63:
        return None, "int outside the 64-bit range"
    return raw, None


def _number(raw: float, scale: float | None) -> tuple[float | None, str | None]:
    """A float field's value times its scale; 1e400 parses as infinity, so check for it."""
    try:
        value = float(raw) * (1.0 if scale is None else scale)
    except OverflowError:
        return None, "number too large for a float"
    if not math.isfinite(value):
        return None, f"not a finite number: {value}"
    return value, None


def _has_type(raw: Any, wanted: FieldType) -> bool:
    """JSON types as the profile names them; a bool is never a number, an int is a float."""
    if isinstance(raw, bool):
        return wanted is FieldType.BOOL
    if wanted is FieldType.FLOAT:
        return isinstance(raw, int | float)
    if wanted is FieldType.INT:
        return isinstance(raw, int)
    return wanted is FieldType.STR and isinstance(raw, str)


def _json_name(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)
