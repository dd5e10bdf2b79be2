"""Property tests: what the simulator encodes, the gateway decodes to the same value.

The simulator's encoder (`simulators.registers.encode`) and the driver's decoder
(`drivers.modbus.decode.decode_point`) are written independently from the profile format, so
a round trip through both over generated points checks that they read the format alike: every
data type, every byte and word order, bit fields, enum tables, scale and offset, and 4-20 mA
loops, including currents outside the NAMUR NE 43 band, which must decode as out of range.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.reading import Quality
from drivers.modbus.decode import decode_point
from drivers.modbus.profile import ByteOrder, DataType, RegisterPoint
from simulators.registers import encode

# No example database: the run writes nothing into the tree and depends on nothing it left.
QUICK = settings(max_examples=200, deadline=None, database=None)

ORDERS = st.sampled_from(list(ByteOrder))
INTEGERS = [DataType.U16, DataType.I16, DataType.U32, DataType.I32, DataType.U64, DataType.I64]
FLOATS = [DataType.F32, DataType.F64]
REGISTER_TABLES = st.sampled_from(["holding_register", "input_register"])
STATE_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)


def point(**fields: Any) -> RegisterPoint:
    """A validated point named `p` at offset 0 with the given profile fields."""
    return RegisterPoint.model_validate({"name": "p", "address": 0, **fields})


def integer_range(kind: DataType) -> tuple[int, int]:
    """The smallest and largest value of an integer type."""
    bits = 16 * kind.registers
    if kind.value.startswith("u"):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def roundtrip(given_point: RegisterPoint, value: Any, current: list[int] | None = None) -> Any:
    """Encode with the simulator, decode with the driver; the decoded value, which must be
    of good quality."""
    value_out, quality, detail = decode_point(given_point, encode(given_point, value, current))
    assert (quality, detail) == (Quality.GOOD, None)
    return value_out


@st.composite
def integer_points(draw: st.DrawFn) -> tuple[RegisterPoint, int]:
    kind = draw(st.sampled_from(INTEGERS))
    low, high = integer_range(kind)
    given_point = point(function=draw(REGISTER_TABLES), type=kind, order=draw(ORDERS))
    return given_point, draw(st.integers(low, high))


@QUICK
@given(integer_points())
def test_integers_of_every_type_and_order_come_back_exactly(
    case: tuple[RegisterPoint, int],
) -> None:
    given_point, value = case
    decoded = roundtrip(given_point, value)
    assert decoded == value
    assert type(decoded) is int


@QUICK
@given(ORDERS, st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_f32_values_come_back_exactly(order: ByteOrder, value: float) -> None:
    assert roundtrip(point(function="input_register", type="f32", order=order), value) == value


@QUICK
@given(ORDERS, st.floats(allow_nan=False, allow_infinity=False))
def test_f64_values_come_back_exactly(order: ByteOrder, value: float) -> None:
    assert roundtrip(point(function="input_register", type="f64", order=order), value) == value


@QUICK
@given(ORDERS, st.floats(min_value=-3.4e38, max_value=3.4e38))
def test_any_float_in_an_f32_comes_back_to_single_precision(order: ByteOrder, value: float) -> None:
    decoded = roundtrip(point(function="holding_register", type="f32", order=order), value)
    assert math.isclose(decoded, value, rel_tol=2**-24, abs_tol=2**-149)


@QUICK
@given(st.sampled_from(FLOATS), ORDERS, st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_floats_decode_as_errors(kind: DataType, order: ByteOrder, value: float) -> None:
    given_point = point(function="input_register", type=kind, order=order)
    decoded, quality, detail = decode_point(given_point, encode(given_point, value))
    assert (decoded, quality) == (None, Quality.DECODE_ERROR)
    assert detail is not None
    assert detail.startswith("not a finite number")


@QUICK
@given(st.sampled_from(["coil", "discrete_input"]), st.booleans())
def test_bools_of_coils_and_discrete_inputs(function: str, value: bool) -> None:
    assert roundtrip(point(function=function, type="bool"), value) is value


@st.composite
def bit_fields(draw: st.DrawFn, *, single: bool) -> tuple[RegisterPoint, list[int]]:
    """A bool (one bit of one register: a `bool` is 16 bits wide) or an integer bit field
    of any integer type, in any order, plus the registers it is written into (random, standing
    for the other points' bits)."""
    kind = DataType.BOOL if single else draw(st.sampled_from(INTEGERS))
    width = 16 * kind.registers
    low = draw(st.integers(0, width - 1))
    high = low if single else draw(st.integers(low, width - 1))
    given_point = point(
        function=draw(REGISTER_TABLES), type=kind, order=draw(ORDERS), bits=[low, high]
    )
    current = draw(
        st.lists(st.integers(0, 0xFFFF), min_size=kind.registers, max_size=kind.registers)
    )
    return given_point, current


def whole(given_point: RegisterPoint, registers: list[int]) -> int:
    """The registers as one unsigned number, read by the driver with the point's order."""
    kind = {1: DataType.U16, 2: DataType.U32, 4: DataType.U64}[given_point.count]
    number, _, _ = decode_point(
        point(function="input_register", type=kind, order=given_point.order), registers
    )
    assert isinstance(number, int)
    return number


@QUICK
@given(bit_fields(single=True), st.booleans())
def test_bools_from_register_bits_leave_the_other_bits(
    case: tuple[RegisterPoint, list[int]], value: bool
) -> None:
    given_point, current = case
    written = encode(given_point, value, current)
    assert roundtrip(given_point, value, current) is value
    low, _ = given_point.bits or (0, 0)
    assert whole(given_point, written) & ~(1 << low) == whole(given_point, current) & ~(1 << low)


@QUICK
@given(bit_fields(single=False), st.data())
def test_bit_fields_come_back_and_leave_the_other_bits(
    case: tuple[RegisterPoint, list[int]], data: st.DataObject
) -> None:
    given_point, current = case
    low, high = given_point.bits or (0, 0)
    value = data.draw(st.integers(0, 2 ** (high - low + 1) - 1))
    written = encode(given_point, value, current)
    assert roundtrip(given_point, value, current) == value
    outside = ~(((1 << (high - low + 1)) - 1) << low)
    assert whole(given_point, written) & outside == whole(given_point, current) & outside


@st.composite
def enum_points(draw: st.DrawFn) -> tuple[RegisterPoint, str]:
    """An enum table on a whole register value (any type, floats with exact integer codes)
    or on a bit field, and one of its state names."""
    kind = draw(st.sampled_from(INTEGERS + FLOATS))
    fields: dict[str, Any] = {"type": kind, "order": draw(ORDERS)}
    low, high = (-(2**24), 2**24) if kind in FLOATS else integer_range(kind)
    if kind in INTEGERS and draw(st.booleans()):
        first = draw(st.integers(0, 16 * kind.registers - 1))
        last = draw(st.integers(first, min(first + 15, 16 * kind.registers - 1)))
        fields["bits"] = [first, last]
        low, high = 0, 2 ** (last - first + 1) - 1
    codes = draw(st.lists(st.integers(low, high), min_size=1, max_size=12, unique=True))
    names = draw(st.lists(STATE_NAMES, min_size=len(codes), max_size=len(codes), unique=True))
    given_point = point(
        function=draw(REGISTER_TABLES), enum=dict(zip(codes, names, strict=True)), **fields
    )
    return given_point, draw(st.sampled_from(names))


@QUICK
@given(enum_points())
def test_enum_states_come_back_by_name(case: tuple[RegisterPoint, str]) -> None:
    given_point, state = case
    assert roundtrip(given_point, state) == state


SCALES = st.floats(min_value=1e-3, max_value=1e3) | st.floats(min_value=-1e3, max_value=-1e-3)
OFFSETS = st.none() | st.floats(min_value=-1e4, max_value=1e4)


@st.composite
def scaled_integers(draw: st.DrawFn) -> tuple[RegisterPoint, float]:
    """A scaled integer point (scale, offset or both) and an engineering value between two
    raw steps, at least 0.01 step from the midpoint, so which step it rounds to is clear."""
    kind = draw(st.sampled_from(INTEGERS))
    scale, offset = draw(st.none() | SCALES), draw(OFFSETS)
    assume(scale is not None or offset is not None)
    low, high = integer_range(kind)
    raw = draw(st.integers(max(low, -(2**40)), min(high, 2**40)))
    fraction = draw(st.floats(min_value=-0.49, max_value=0.49))
    fraction = max(fraction, 0.0) if raw == low else fraction
    fraction = min(fraction, 0.0) if raw == high else fraction
    given_point = point(
        function=draw(REGISTER_TABLES), type=kind, order=draw(ORDERS), scale=scale, offset=offset
    )
    return given_point, (raw + fraction) * (1.0 if scale is None else scale) + (offset or 0.0)


@QUICK
@given(scaled_integers())
def test_scaled_integers_come_back_within_half_a_step(case: tuple[RegisterPoint, float]) -> None:
    given_point, value = case
    step = abs(1.0 if given_point.scale is None else given_point.scale)
    decoded = roundtrip(given_point, value)
    assert isinstance(decoded, float)
    assert abs(decoded - value) <= step / 2 + 1e-9 * (abs(value) + abs(given_point.offset or 0))


@QUICK
@given(st.sampled_from(FLOATS), ORDERS, SCALES, OFFSETS, st.floats(min_value=-1e6, max_value=1e6))
def test_scaled_floats_come_back_to_the_precision_of_the_type(
    kind: DataType, order: ByteOrder, scale: float, offset: float | None, value: float
) -> None:
    given_point = point(
        function="input_register", type=kind, order=order, scale=scale, offset=offset
    )
    decoded = roundtrip(given_point, value)
    precision = 2**-23 if kind is DataType.F32 else 2**-52
    assert abs(decoded - value) <= precision * (abs(value) + 2 * abs(offset or 0.0)) + 1e-12


# How modules report the loop current: (type, scale to mA, offset). µA counts as ICP DAS
# M-7018 modules do (4000 = 4 mA), signed µA, nA in 32 bits, and mA as a float.
LOOP_CONVENTIONS = st.sampled_from(
    [
        (DataType.U16, 0.001, None),
        (DataType.I16, 0.001, None),
        (DataType.U32, 1e-6, None),
        (DataType.F32, None, None),
        (DataType.I32, 0.01, -10.0),
    ]
)


@st.composite
def current_loops(draw: st.DrawFn) -> tuple[RegisterPoint, float]:
    """A 4-20 mA point and a loop current in mA from 0 to 30: healthy and faulty alike."""
    kind, scale, offset = draw(LOOP_CONVENTIONS)
    low = draw(st.floats(min_value=-100.0, max_value=100.0))
    high = draw(st.floats(min_value=-100.0, max_value=100.0))
    loop: dict[str, float] = {"low": low, "high": high}
    if draw(st.booleans()):  # a site that sets its own fault limits
        loop["fault_below_ma"] = draw(st.floats(min_value=3.0, max_value=3.8))
        loop["fault_above_ma"] = draw(st.floats(min_value=20.5, max_value=22.0))
    given_point = point(
        function=draw(REGISTER_TABLES),
        type=kind,
        order=draw(ORDERS),
        scale=scale,
        offset=offset,
        current_loop=loop,
    )
    milliamps = draw(st.floats(min_value=0.0, max_value=30.0))
    return given_point, milliamps


@QUICK
@given(current_loops())
def test_loop_currents_scale_inside_the_band_and_are_out_of_range_outside(
    case: tuple[RegisterPoint, float],
) -> None:
    given_point, milliamps = case
    loop = given_point.current_loop
    assert loop is not None
    step = abs(given_point.scale or 0.0)  # the module's resolution in mA; a float is exact
    band = (loop.fault_below_ma, loop.fault_above_ma)
    assume(all(abs(milliamps - limit) > step + 1e-6 for limit in band))
    decoded, quality, detail = decode_point(given_point, encode(given_point, milliamps))
    if not band[0] <= milliamps <= band[1]:
        assert (decoded, quality) == (None, Quality.OUT_OF_RANGE)
        assert detail is not None
        assert detail.endswith("mA (NAMUR NE 43 sensor fault)")
        return
    assert quality is Quality.GOOD
    assert isinstance(decoded, float)
    expected = loop.low + (milliamps - 4.0) * (loop.high - loop.low) / 16.0
    per_ma = abs(loop.high - loop.low) / 16.0
    resolution = step / 2 if step else 2**-23 * milliamps
    assert abs(decoded - expected) <= per_ma * resolution + 1e-9 * (1 + abs(expected))
