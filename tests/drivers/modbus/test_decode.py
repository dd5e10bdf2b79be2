"""Modbus point decoding: one table of (point, raw registers) and the value each must give.

The raw registers are built here from `struct` bytes and an explicit byte layout ("CDAB"
means the device sends bytes C and D in the first register), not with the decoder's helpers.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
import yaml

from core.reading import Quality
from drivers.modbus.decode import decode_point
from drivers.modbus.profile import ModbusProfile, RegisterPoint
from tests.sites import CONFIG

PROFILES = CONFIG / "profiles"
LAYOUTS_64 = {"ABCD": "ABCDEFGH", "CDAB": "GHEFCDAB", "BADC": "BADCFEHG", "DCBA": "HGFEDCBA"}


def point(**fields: Any) -> RegisterPoint:
    """A holding-register point named `p` with the given profile fields."""
    return RegisterPoint.model_validate(
        {"name": "p", "function": "holding_register", "address": 0, **fields}
    )


def laid_out(data: bytes, layout: str) -> list[int]:
    """Registers as a device sends `data` (bytes A, B, C...) in `layout`, e.g. "CDAB"."""
    ordered = bytes(data[ord(letter) - ord("A")] for letter in layout)
    return [int.from_bytes(ordered[i : i + 2], "big") for i in range(0, len(ordered), 2)]


def packed(fmt: str, value: float, order: str = "ABCD") -> list[int]:
    data = struct.pack(">" + fmt, value)
    layout = LAYOUTS_64[order] if len(data) == 8 else order[: len(data)]
    if len(data) == 2:
        layout = "BA" if order in ("BADC", "DCBA") else "AB"
    return laid_out(data, layout)


def profile_point(profile: str, name: str) -> RegisterPoint:
    raw = yaml.safe_load((PROFILES / f"{profile}.yaml").read_text(encoding="utf-8"))
    return next(p for p in ModbusProfile.model_validate(raw).points if p.name == name)


ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")

GOOD = [
    pytest.param(point(type="u16"), [0x1234], 0x1234, id="u16"),
    pytest.param(point(type="u16", order="BADC"), [0x3412], 0x1234, id="u16-byte-swapped"),
    pytest.param(point(type="i16"), packed("h", -2), -2, id="i16-negative"),
    pytest.param(point(type="i16"), [0x7FFF], 32767, id="i16-max"),
    *[
        pytest.param(
            point(type="u32", order=o), packed("I", 0x12345678, o), 0x12345678, id=f"u32-{o}"
        )
        for o in ORDERS
    ],
    pytest.param(point(type="u32", order="CDAB"), [0x5678, 0x1234], 0x12345678, id="u32-cdab"),
    *[
        pytest.param(point(type="i32", order=o), packed("i", -123456, o), -123456, id=f"i32-{o}")
        for o in ORDERS
    ],
    *[
        pytest.param(
            point(type="u64", order=o), packed("Q", 2**63 + 5, o), 2**63 + 5, id=f"u64-{o}"
        )
        for o in ORDERS
    ],
    pytest.param(
        point(type="u64", order="CDAB"),
        [0x0708, 0x0506, 0x0304, 0x0102],
        0x0102030405060708,
        id="u64-cdab-by-hand",
    ),
    *[
        pytest.param(point(type="i64", order=o), packed("q", -(2**40), o), -(2**40), id=f"i64-{o}")
        for o in ORDERS
    ],
    *[
        pytest.param(point(type="f32", order=o), packed("f", 1.5, o), 1.5, id=f"f32-{o}")
        for o in ORDERS
    ],
    pytest.param(point(type="f32", order="DCBA"), [0x0000, 0xC03F], 1.5, id="f32-dcba-by-hand"),
    *[
        pytest.param(point(type="f64", order=o), packed("d", -273.15, o), -273.15, id=f"f64-{o}")
        for o in ORDERS
    ],
    pytest.param(point(function="coil", type="bool"), [True], True, id="coil-on"),
    pytest.param(point(function="coil", type="bool"), [False], False, id="coil-off"),
    pytest.param(point(function="discrete_input", type="bool"), [1], True, id="input-on"),
    pytest.param(point(type="bool", bits=[3, 3]), [0b1000], True, id="register-bit-set"),
    pytest.param(point(type="bool", bits=[3, 3]), [0xFFF7], False, id="register-bit-clear"),
    pytest.param(point(type="u16", bits=[8, 15]), [0xAB12], 0xAB, id="bits-shifted-down"),
    pytest.param(point(type="u16", bits=[4, 6]), [0b1111_0101_0000], 0b101, id="bits-middle"),
    pytest.param(point(type="i16", bits=[0, 15]), packed("h", -1), 0xFFFF, id="bits-of-signed"),
    pytest.param(point(type="u32", bits=[16, 31]), [0x0002, 0x0001], 2, id="bits-of-u32"),
    pytest.param(
        point(type="u32", order="CDAB", bits=[16, 31]), [0x0001, 0x0002], 2, id="bits-of-u32-cdab"
    ),
    pytest.param(point(enum={0: "normal", 2: "fire"}), [2], "fire", id="enum"),
    pytest.param(point(type="u16", scale=0.01), [1234], 12.34, id="scale"),
    pytest.param(point(type="u16", offset=-40), [60], 20.0, id="offset-only"),
    pytest.param(point(type="i16", scale=0.5, offset=-10), [100], 40.0, id="scale-and-offset"),
    pytest.param(point(type="i16", scale=0.1), packed("h", -55), -5.5, id="scale-negative"),
    pytest.param(
        point(type="f32", current_loop={"low": 0, "high": 1.6}),
        packed("f", 12.0),
        0.8,
        id="loop-float-milliamps",
    ),
    pytest.param(
        point(type="u16", scale=0.001, current_loop={"low": -1, "high": 1}),
        [4000],
        -1.0,
        id="loop-4ma-is-low",
    ),
    pytest.param(
        point(type="u16", scale=0.001, current_loop={"low": 0, "high": 1.6}),
        [3600],
        -0.04,
        id="loop-at-lower-fault-limit",
    ),
    pytest.param(
        point(type="u16", scale=0.001, current_loop={"low": 0, "high": 1.6}),
        [21000],
        1.7,
        id="loop-at-upper-fault-limit",
    ),
]


@pytest.mark.parametrize(("given", "words", "expected"), GOOD)
def test_good_values(given: RegisterPoint, words: list[int], expected: object) -> None:
    value, quality, detail = decode_point(given, words)
    assert (quality, detail) == (Quality.GOOD, None)
    assert value == pytest.approx(expected)
    assert type(value) is type(expected)


HYDRANT = [
    pytest.param(12000, 12.0, 0.8, id="mid-scale"),
    pytest.param(4000, 4.0, 0.0, id="zero-pressure"),
    pytest.param(20000, 20.0, 1.6, id="full-scale"),
    pytest.param(5000, 5.0, 0.1, id="static-minimum"),
]


@pytest.mark.parametrize(("microamps", "milliamps", "megapascal"), HYDRANT)
def test_hydrant_profile(microamps: int, milliamps: float, megapascal: float) -> None:
    current = decode_point(profile_point("io-hydrant", "loop_current"), [microamps])
    pressure = decode_point(profile_point("io-hydrant", "pressure"), [microamps])
    assert current == (pytest.approx(milliamps), Quality.GOOD, None)
    assert pressure == (pytest.approx(megapascal), Quality.GOOD, None)


DETECTOR = [
    pytest.param("status", [0x0000], "normal", id="status-normal"),
    pytest.param("status", [0x0001], "pre_alarm", id="status-pre-alarm"),
    pytest.param("status", [0x5A02], "fire", id="status-high-byte-ignored"),
    pytest.param("status", [0x0005], "maintenance", id="status-maintenance"),
    pytest.param("obscuration", [350], 3.5, id="obscuration"),
    pytest.param("temperature", packed("h", -125), -12.5, id="temperature-below-zero"),
]


@pytest.mark.parametrize(("name", "words", "expected"), DETECTOR)
def test_detector_profile(name: str, words: list[int], expected: object) -> None:
    assert decode_point(profile_point("panel-detector", name), words) == (
        pytest.approx(expected),
        Quality.GOOD,
        None,
    )


BAD = [
    pytest.param(point(enum={0: "normal"}), [7], Quality.DECODE_ERROR, "unknown code 7", id="enum"),
    pytest.param(
        profile_point("panel-detector", "status"),
        [0x0107],
        Quality.DECODE_ERROR,
        "unknown code 7",
        id="detector-status-unknown",
    ),
    pytest.param(
        point(type="f32"),
        packed("f", math.nan),
        Quality.DECODE_ERROR,
        "not a finite number: nan",
        id="f32-nan",
    ),
    pytest.param(
        point(type="f32", order="CDAB"),
        packed("f", math.inf, "CDAB"),
        Quality.DECODE_ERROR,
        "not a finite number: inf",
        id="f32-inf",
    ),
    pytest.param(
        point(type="f64", scale=2),
        packed("d", -math.inf),
        Quality.DECODE_ERROR,
        "not a finite number: -inf",
        id="f64-minus-inf",
    ),
    pytest.param(
        profile_point("io-hydrant", "pressure"),
        [2100],
        Quality.OUT_OF_RANGE,
        "loop current 2.10 mA (NAMUR NE 43 sensor fault)",
        id="loop-wire-break",
    ),
    pytest.param(
        profile_point("io-hydrant", "pressure"),
        [3599],
        Quality.OUT_OF_RANGE,
        "loop current 3.60 mA (NAMUR NE 43 sensor fault)",
        id="loop-just-below",
    ),
    pytest.param(
        profile_point("io-hydrant", "pressure"),
        [21500],
        Quality.OUT_OF_RANGE,
        "loop current 21.50 mA (NAMUR NE 43 sensor fault)",
        id="loop-short-circuit",
    ),
    pytest.param(
        point(type="u32"),
        [1],
        Quality.DECODE_ERROR,
        "expected 2 register(s), got 1",
        id="too-few-registers",
    ),
    pytest.param(
        point(function="coil", type="bool"),
        [],
        Quality.DECODE_ERROR,
        "expected 1 bit(s), got 0",
        id="no-bit",
    ),
    pytest.param(
        point(type="u16"),
        [70000],
        Quality.DECODE_ERROR,
        "register value out of range: [70000]",
        id="not-a-register",
    ),
]


@pytest.mark.parametrize(("given", "words", "quality", "detail"), BAD)
def test_bad_values(given: RegisterPoint, words: list[int], quality: Quality, detail: str) -> None:
    assert decode_point(given, words) == (None, quality, detail)
