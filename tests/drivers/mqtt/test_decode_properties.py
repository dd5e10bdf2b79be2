"""Property tests: any payload from a broker decodes to results or a `PayloadError`, nothing else.

A camera's or an NVR's MQTT payload is untrusted input. For generated profiles (every field
type, enum tables, scales, optional fields, nested paths) and generated payloads (arbitrary
bytes, JSON documents shaped like the profile, JSON text with NaN, 1e400, huge integers or
deep nesting), `decode_payload` must

- return one result per point at most, in profile order, or raise `PayloadError` with a reason;
- give a good reading only of the type the profile says (bool, int within 64 bits, finite
  float, str, or a state from the enum table), never NaN or infinity;
- give a bad reading no value and a detail that says why.

Example counts are fixed and derandomized so that CI time stays bounded (Hypothesis also
draws on constants of the modules loaded, so a run of the whole suite tries slightly different
examples than a run of this file).
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import Quality
from drivers.mqtt.decode import PayloadError, PointResult, decode_payload
from drivers.mqtt.profile import FieldType, MqttProfile

BYTES_EXAMPLES = 300
SHAPED_EXAMPLES = 400
TEXT_EXAMPLES = 300


def examples(count: int) -> settings:
    return settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


KEYS = st.sampled_from(["a", "b", "stream", "fps", "state", "x-1", "v_2"])
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
FINITE_SCALES = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
SCALES = FINITE_SCALES | st.sampled_from([1e308, -1e308, 0.0, float("inf"), float("nan")])


@st.composite
def field_points(draw: st.DrawFn, name: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(FieldType)))
    point: dict[str, Any] = {
        "name": name,
        "path": ".".join(draw(st.lists(KEYS, min_size=1, max_size=3))),
        "type": kind.value,
        "required": draw(st.booleans()),
    }
    if kind is FieldType.STR and draw(st.booleans()):
        point["enum"] = draw(
            st.dictionaries(st.text(max_size=6), st.text(min_size=1, max_size=6) | st.booleans())
        )
    if kind in (FieldType.INT, FieldType.FLOAT) and draw(st.booleans()):
        point["scale"] = draw(SCALES)
    return point


@st.composite
def profiles(draw: st.DrawFn) -> MqttProfile:
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    return MqttProfile.model_validate(
        {
            "id": "generated",
            "protocol": "mqtt",
            "kind": "camera",
            "max_payload_bytes": draw(st.sampled_from([64, 16384, 1_000_000])),
            "points": [draw(field_points(name)) for name in names],
        }
    )


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)


def typed_values(kind: FieldType, enum: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """Values a device would send for a field of `kind`, edge cases included."""
    if kind is FieldType.BOOL:
        return st.booleans()
    if kind is FieldType.INT:
        return st.integers() | st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1])
    if kind is FieldType.FLOAT:
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**70), 2**70)
    return st.sampled_from(list(enum)) if enum else st.text(max_size=8)


@st.composite
def shaped_documents(draw: st.DrawFn, profile: MqttProfile) -> bytes:
    """A JSON object with values at (some of) the profile's paths: mostly of the type the
    profile says (edge cases included), sometimes of any type."""
    document: dict[str, Any] = {}
    for point in profile.points:
        if draw(st.booleans()):
            node = document
            *parents, last = point.keys
            for key in parents:
                child = node.setdefault(key, {})
                if not isinstance(child, dict):
                    break
                node = child
            else:
                typed = typed_values(point.type, point.enum)
                node[last] = draw(st.one_of(typed, typed, typed, JSON_VALUES))
    return json.dumps(document).encode()  # NaN and Infinity as the literals some devices send


JSON_TEXTS = st.one_of(
    st.text(max_size=40),
    st.builds(lambda n: "[" * n + "]" * n, st.integers(0, 200_000)),
    st.builds(lambda n: '{"a":' * n + "1" + "}" * n, st.integers(0, 50_000)),
    st.builds(lambda n: '{"a": ' + "9" * n + "}", st.integers(1, 6000)),
    st.sampled_from(
        [
            '{"a": 1e400, "b": -1e400, "fps": 1e999}',
            '{"a": NaN}',
            '{"a": Infinity, "b": -Infinity}',
            '{"a": {"b": {"a": 18446744073709551616}}}',
            '{"a": "\\ud800"}',
            '{"a": 1, "a": 2}',
            '{"stream": {"fps": "25"}, "state": true}',
            "[]",
            "null",
            '"text"',
            "\ufeff{}",
        ]
    ),
)


def assert_well_formed(profile: MqttProfile, results: list[PointResult]) -> None:
    points = {point.name: point for point in profile.points}
    order = [point.name for point in profile.points]
    names = [name for name, *_ in results]
    assert names == sorted(names, key=order.index), "results out of profile order"
    assert len(set(names)) == len(names), "two results for one point"
    for name, value, quality, detail in results:
        point = points[name]
        if quality is not Quality.GOOD:
            assert (value, quality) == (None, Quality.DECODE_ERROR)
            assert isinstance(detail, str)
            assert detail
            continue
        assert detail is None
        if point.enum is not None:
            assert value in point.enum.values()
        elif point.type is FieldType.BOOL:
            assert isinstance(value, bool)
        elif point.type is FieldType.STR:
            assert isinstance(value, str)
        elif point.type is FieldType.INT and point.scale is None:
            assert isinstance(value, int)
            assert not isinstance(value, bool)
            assert -(2**63) <= value < 2**63
        else:
            assert isinstance(value, float)
            assert math.isfinite(value), f"{name} is a good reading of {value}"


def decoded(profile: MqttProfile, payload: bytes) -> list[PointResult] | None:
    """The results, or None for a `PayloadError` (with a reason); anything else fails."""
    try:
        results = decode_payload(profile, payload)
    except PayloadError as error:
        reason = error.reason
    else:
        assert_well_formed(profile, results)
        return results
    assert reason, "a PayloadError without a reason"
    return None


@examples(BYTES_EXAMPLES)
@given(profile=profiles(), payload=st.binary(max_size=300))
def test_any_bytes_give_results_or_a_payload_error(profile: MqttProfile, payload: bytes) -> None:
    decoded(profile, payload)


@examples(SHAPED_EXAMPLES)
@given(data=st.data(), profile=profiles())
def test_a_document_shaped_like_the_profile_gives_typed_values(
    data: st.DataObject, profile: MqttProfile
) -> None:
    payload = data.draw(shaped_documents(profile))
    results = decoded(profile, payload)
    if results is not None:
        required = {point.name for point in profile.points if point.required}
        assert required <= {name for name, *_ in results}, "a required point gave no result"


@examples(TEXT_EXAMPLES)
@given(profile=profiles(), text=JSON_TEXTS)
def test_json_beyond_the_bounds_is_a_payload_error_not_a_crash(
    profile: MqttProfile, text: str
) -> None:
    decoded(profile, text.encode("utf-8", "surrogatepass"))
