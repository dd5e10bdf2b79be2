"""The simulators' register encoder: one table of points and values and the exact registers.

Expected words are written out by hand (IEEE 754 and two's complement bit patterns), not
computed with `struct`, so the table checks the encoder rather than restating it.
"""

from __future__ import annotations

from typing import Any

import pytest

from drivers.modbus.profile import RegisterPoint
from simulators.registers import EncodeError, encode


def point(**fields: Any) -> RegisterPoint:
    return RegisterPoint.model_validate(
        {"name": "p", "function": "input_register", "address": 0, **fields}
    )


@pytest.mark.parametrize(
    ("given", "value", "words"),
    [
        pytest.param(point(type="u16"), 0x1234, [0x1234], id="u16"),
        pytest.param(point(type="u16"), 65535, [0xFFFF], id="u16-max"),
        pytest.param(point(type="i16"), -1, [0xFFFF], id="i16-minus-1"),
        pytest.param(point(type="i16"), -32768, [0x8000], id="i16-min"),
        pytest.param(point(type="u16", order="BADC"), 0x1234, [0x3412], id="u16-badc"),
        pytest.param(point(type="u16", order="CDAB"), 0x1234, [0x1234], id="u16-cdab"),
        pytest.param(point(type="u32"), 0x12345678, [0x1234, 0x5678], id="u32-abcd"),
        pytest.param(point(type="u32", order="CDAB"), 0x12345678, [0x5678, 0x1234], id="u32-cdab"),
        pytest.param(point(type="u32", order="BADC"), 0x12345678, [0x3412, 0x7856], id="u32-badc"),
        pytest.param(point(type="u32", order="DCBA"), 0x12345678, [0x7856, 0x3412], id="u32-dcba"),
        pytest.param(point(type="i32"), -2, [0xFFFF, 0xFFFE], id="i32"),
        pytest.param(point(type="i32", order="CDAB"), -2, [0xFFFE, 0xFFFF], id="i32-cdab"),
        pytest.param(
            point(type="u64"), 0x0102030405060708, [0x0102, 0x0304, 0x0506, 0x0708], id="u64-abcd"
        ),
        pytest.param(
            point(type="u64", order="CDAB"),
            0x0102030405060708,
            [0x0708, 0x0506, 0x0304, 0x0102],
            id="u64-cdab",
        ),
        pytest.param(
            point(type="u64", order="BADC"),
            0x0102030405060708,
            [0x0201, 0x0403, 0x0605, 0x0807],
            id="u64-badc",
        ),
        pytest.param(
            point(type="u64", order="DCBA"),
            0x0102030405060708,
            [0x0807, 0x0605, 0x0403, 0x0201],
            id="u64-dcba",
        ),
        pytest.param(point(type="i64"), -2, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], id="i64"),
        pytest.param(point(type="f32"), 1.0, [0x3F80, 0x0000], id="f32"),
        pytest.param(point(type="f32"), -2.5, [0xC020, 0x0000], id="f32-negative"),
        pytest.param(point(type="f32", order="CDAB"), 1.0, [0x0000, 0x3F80], id="f32-cdab"),
        pytest.param(point(type="f32", order="BADC"), 1.0, [0x803F, 0x0000], id="f32-badc"),
        pytest.param(point(type="f32", order="DCBA"), 1.0, [0x0000, 0x803F], id="f32-dcba"),
        pytest.param(point(type="f64"), 1.0, [0x3FF0, 0, 0, 0], id="f64"),
        pytest.param(point(type="f64", order="DCBA"), 1.0, [0, 0, 0, 0xF03F], id="f64-dcba"),
        pytest.param(point(type="f32", scale=0.1), 12.5, [0x42FA, 0x0000], id="f32-scaled"),
    ],
)
def test_types_and_byte_orders(given: RegisterPoint, value: Any, words: list[int]) -> None:
    assert encode(given, value) == words


@pytest.mark.parametrize(
    ("given", "value", "words"),
    [
        pytest.param(point(type="u16", scale=0.01), 0.12, [12], id="obscuration"),
        pytest.param(point(type="i16", scale=0.1), 22.4, [224], id="temperature"),
        pytest.param(point(type="i16", scale=0.1), -5.3, [0xFFCB], id="temperature-negative"),
        pytest.param(point(type="u16", scale=0.5, offset=-40), 10.0, [100], id="scale-offset"),
        pytest.param(point(type="u16", offset=100), 150, [50], id="offset-only"),
        pytest.param(
            point(type="u16", scale=0.001, current_loop={"low": 0, "high": 1.6}),
            12.5,
            [12500],
            id="current-loop-ma",
        ),
        pytest.param(
            point(type="u16", scale=0.001, current_loop={"low": 0, "high": 1.6}),
            2.0,
            [2000],
            id="current-loop-sensor-fault",
        ),
        pytest.param(point(type="u16"), True, [1], id="bool-into-number"),
        pytest.param(point(type="u16"), 7.6, [8], id="rounded"),
    ],
)
def test_scale_offset_and_current_loop(given: RegisterPoint, value: Any, words: list[int]) -> None:
    assert encode(given, value) == words


STATUS = point(type="u16", bits=[0, 7], enum={0: "normal", 1: "pre_alarm", 2: "fire", 3: "fault"})


@pytest.mark.parametrize(
    ("given", "value", "current", "words"),
    [
        pytest.param(STATUS, "fire", None, [0x0002], id="enum-fresh"),
        pytest.param(STATUS, "fire", [0xAB00], [0xAB02], id="enum-keeps-high-byte"),
        pytest.param(STATUS, "normal", [0xABFF], [0xAB00], id="enum-clears-its-bits"),
        pytest.param(point(type="u16", bits=[8, 15]), 0x12, [0x00FF], [0x12FF], id="high-byte"),
        pytest.param(point(type="bool", bits=[3, 3]), True, [0x0001], [0x0009], id="bool-set"),
        pytest.param(point(type="bool", bits=[3, 3]), False, [0xFFFF], [0xFFF7], id="bool-clear"),
        pytest.param(
            point(type="u32", bits=[16, 23]),
            0xAB,
            [0, 0],
            [0x00AB, 0x0000],
            id="u32-field-high-word",
        ),
        pytest.param(
            point(type="u32", bits=[16, 23], order="CDAB"),
            0xAB,
            [0, 0],
            [0x0000, 0x00AB],
            id="u32-field-cdab",
        ),
        pytest.param(
            point(type="u16", bits=[0, 7], order="BADC"),
            0x12,
            [0x0000],
            [0x1200],
            id="u16-field-badc",
        ),
    ],
)
def test_bit_fields_write_only_their_bits(
    given: RegisterPoint, value: Any, current: list[int] | None, words: list[int]
) -> None:
    assert encode(given, value, current) == words


def test_two_fields_share_one_register() -> None:
    state = point(type="u16", bits=[0, 7], enum={0: "normal", 2: "fire"})
    sounder = point(name="q", type="bool", bits=[8, 8])
    word = encode(state, "fire")
    word = encode(sounder, True, word)
    assert word == [0x0102]
    assert encode(state, "normal", word) == [0x0100]


@pytest.mark.parametrize(
    ("function", "value", "words"),
    [("coil", True, [1]), ("coil", False, [0]), ("discrete_input", 1, [1])],
)
def test_bits_of_coils_and_discrete_inputs(function: str, value: Any, words: list[int]) -> None:
    assert encode(point(function=function, type="bool"), value) == words


@pytest.mark.parametrize(
    ("given", "value", "message"),
    [
        pytest.param(
            point(type="u16"),
            70000,
            "point 'p': raw value 70000 does not fit a u16",
            id="u16-overflow",
        ),
        pytest.param(
            point(type="u16"), -1, "point 'p': raw value -1 does not fit a u16", id="u16-negative"
        ),
        pytest.param(
            point(type="i16", scale=0.1),
            4000.0,
            "point 'p': raw value 40000 does not fit a i16",
            id="i16-scaled-overflow",
        ),
        pytest.param(
            STATUS, "smouldering", "point 'p': no enum code for 'smouldering'", id="unknown-state"
        ),
        pytest.param(
            point(type="u16", bits=[0, 3]),
            16,
            "point 'p': raw value 16 does not fit bits 0-3",
            id="field-overflow",
        ),
        pytest.param(
            point(type="u16", scale=0.1),
            float("nan"),
            "point 'p': cannot encode nan as u16",
            id="nan",
        ),
        pytest.param(
            point(type="u16"), "high", "point 'p': expected a number, got 'high'", id="string"
        ),
        pytest.param(
            point(function="coil", type="bool"),
            "on",
            "point 'p': expected a bool, got 'on'",
            id="coil-string",
        ),
    ],
)
def test_values_a_point_cannot_carry_are_errors(
    given: RegisterPoint, value: Any, message: str
) -> None:
    with pytest.raises(EncodeError) as caught:
        encode(given, value)
    assert str(caught.value) == message
