"""MQTT payload decoding: tables of payloads and the point results or the rejection each gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from core.reading import Quality
from drivers.mqtt.decode import PayloadError, decode_payload
from drivers.mqtt.profile import MqttProfile
from tests.sites import CONFIG

PROFILES = CONFIG / "profiles"
CAMERA = MqttProfile.model_validate(
    yaml.safe_load((PROFILES / "camera-health.yaml").read_text(encoding="utf-8"))
)
DETECTOR = MqttProfile.model_validate(
    {
        "id": "iot-detector",
        "protocol": "mqtt",
        "kind": "smoke_detector",
        "max_payload_bytes": 256,
        "points": [
            {
                "name": "status",
                "path": "state",
                "type": "str",
                "enum": {"ok": "normal", "alarm": "fire"},
            },
            {"name": "obscuration", "path": "obs", "type": "int", "scale": 0.01, "unit": "%/m"},
            {"name": "battery", "path": "battery", "type": "int", "required": False},
            {"name": "firmware", "path": "fw", "type": "str", "required": False},
        ],
    }
)
GOOD_CAMERA: dict[str, Any] = {
    "online": True,
    "recording": True,
    "stream": {"fps": 25, "bitrate_kbps": 4096.5},
    "storage": {"retention_days": 92},
    "tamper": False,
    "video_loss": False,
    "temperature": 41.5,
}
G = Quality.GOOD
BAD = Quality.DECODE_ERROR


def camera(**changes: Any) -> bytes:
    """The good camera document with top-level fields replaced (None value: field removed)."""
    document = {**GOOD_CAMERA, **changes}
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


def test_good_camera_document() -> None:
    assert decode_payload(CAMERA, camera()) == [
        ("online", True, G, None),
        ("recording", True, G, None),
        ("fps", 25.0, G, None),
        ("bitrate", 4096.5, G, None),
        ("retention_days", 92, G, None),
        ("tamper", False, G, None),
        ("video_loss", False, G, None),
        ("temperature", 41.5, G, None),
    ]


def test_int_for_float_field_becomes_float() -> None:
    (fps,) = [r for r in decode_payload(CAMERA, camera()) if r[0] == "fps"]
    assert type(fps[1]) is float


CAMERA_CASES = [
    pytest.param(camera(temperature=None), "temperature", None, id="optional-missing-no-reading"),
    pytest.param(
        b'{"temperature": null, ' + camera(temperature=None)[1:],
        "temperature",
        None,
        id="optional-null-no-reading",
    ),
    pytest.param(
        camera(stream={"bitrate_kbps": 1}),
        "fps",
        (None, BAD, "missing field stream.fps"),
        id="missing",
    ),
    pytest.param(
        camera(stream=None),
        "bitrate",
        (None, BAD, "missing field stream.bitrate_kbps"),
        id="no-parent",
    ),
    pytest.param(
        camera(stream=5), "fps", (None, BAD, "missing field stream.fps"), id="parent-not-object"
    ),
    pytest.param(
        camera(stream={"fps": "25"}),
        "fps",
        (None, BAD, "expected float, got str"),
        id="str-for-float",
    ),
    pytest.param(
        camera(stream={"fps": True}),
        "fps",
        (None, BAD, "expected float, got bool"),
        id="bool-for-float",
    ),
    pytest.param(
        camera(online=1), "online", (None, BAD, "expected bool, got int"), id="int-for-bool"
    ),
    pytest.param(
        camera(online="true"), "online", (None, BAD, "expected bool, got str"), id="str-for-bool"
    ),
    pytest.param(
        camera(storage={"retention_days": 90.0}),
        "retention_days",
        (None, BAD, "expected int, got float"),
        id="float-for-int",
    ),
    pytest.param(
        camera(storage={"retention_days": False}),
        "retention_days",
        (None, BAD, "expected int, got bool"),
        id="bool-for-int",
    ),
    pytest.param(
        b'{"recording": null, ' + camera(recording=None)[1:],
        "recording",
        (None, BAD, "expected bool, got null"),
        id="required-null",
    ),
    pytest.param(
        camera(tamper=[]), "tamper", (None, BAD, "expected bool, got array"), id="array-for-bool"
    ),
    pytest.param(
        camera(temperature={"c": 1}),
        "temperature",
        (None, BAD, "expected float, got object"),
        id="optional-present-but-wrong",
    ),
    pytest.param(
        camera(stream={"fps": "F"}).replace(b'"F"', b"1e400"),
        "fps",
        (None, BAD, "not a finite number: inf"),
        id="overflowing-float",
    ),
    pytest.param(
        camera(stream={"fps": 10**400}),
        "fps",
        (None, BAD, "number too large for a float"),
        id="huge-int",
    ),
    pytest.param(camera(stream={"fps": -0.0}), "fps", (-0.0, G, None), id="negative-zero"),
]

DETECTOR_CASES = [
    pytest.param(b'{"state": "alarm", "obs": 250}', "status", ("fire", G, None), id="enum"),
    pytest.param(
        b'{"state": "smoke", "obs": 0}',
        "status",
        (None, BAD, "unknown value 'smoke'"),
        id="enum-unknown",
    ),
    pytest.param(
        b'{"state": 1, "obs": 0}', "status", (None, BAD, "expected str, got int"), id="enum-not-str"
    ),
    pytest.param(b'{"state": "ok", "obs": 250}', "obscuration", (2.5, G, None), id="scaled-int"),
    pytest.param(
        b'{"state": "ok", "obs": 2.5}',
        "obscuration",
        (None, BAD, "expected int, got float"),
        id="int-only",
    ),
    pytest.param(
        b'{"state": "ok", "obs": 0, "battery": 87}', "battery", (87, G, None), id="optional-int"
    ),
    pytest.param(
        b'{"state": "ok", "obs": 0, "battery": 9223372036854775808}',
        "battery",
        (None, BAD, "int outside the 64-bit range"),
        id="int-beyond-int64",
    ),
    pytest.param(
        b'{"state": "ok", "obs": 0, "fw": "2.1.0"}', "firmware", ("2.1.0", G, None), id="str"
    ),
]


def results_of(profile: MqttProfile, payload: bytes) -> dict[str, tuple[Any, ...]]:
    return {result[0]: result[1:] for result in decode_payload(profile, payload)}


@pytest.mark.parametrize(("payload", "name", "expected"), CAMERA_CASES)
def test_camera_points(payload: bytes, name: str, expected: tuple[Any, ...] | None) -> None:
    assert results_of(CAMERA, payload).get(name) == expected


@pytest.mark.parametrize(("payload", "name", "expected"), DETECTOR_CASES)
def test_detector_points(payload: bytes, name: str, expected: tuple[Any, ...] | None) -> None:
    assert results_of(DETECTOR, payload).get(name) == expected


def test_one_bad_field_leaves_the_others_good() -> None:
    results = decode_payload(CAMERA, camera(stream={"fps": "x", "bitrate_kbps": 800}))
    assert [(name, quality) for name, _, quality, _ in results] == [
        ("online", G),
        ("recording", G),
        ("fps", BAD),
        ("bitrate", G),
        ("retention_days", G),
        ("tamper", G),
        ("video_loss", G),
        ("temperature", G),
    ]


def test_unknown_fields_are_ignored() -> None:
    assert len(decode_payload(CAMERA, camera(vendor={"model": "X"}, ts=1700000000))) == 8


PAYLOAD_ERRORS = [
    pytest.param(b"\xff\xfe{}", "not UTF-8: invalid byte at offset 0", id="not-utf8"),
    pytest.param(b'{"online": "\xe9t\xe9"}', "not UTF-8: invalid byte at offset 12", id="latin1"),
    pytest.param(b"", "not JSON: Expecting value at line 1 column 1", id="empty"),
    pytest.param(b"camera ok", "not JSON: Expecting value at line 1 column 1", id="text"),
    pytest.param(
        b'{"online": true,}',
        "not JSON: Expecting property name enclosed in double quotes at line 1 column 17",
        id="trailing-comma",
    ),
    pytest.param(
        b'{"online": true', "not JSON: Expecting ',' delimiter at line 1 column 16", id="truncated"
    ),
    pytest.param(b"[1, 2]", "expected a JSON object, got array", id="array"),
    pytest.param(b'"online"', "expected a JSON object, got str", id="string"),
    pytest.param(b"42", "expected a JSON object, got int", id="number"),
    pytest.param(b"null", "expected a JSON object, got null", id="null"),
    pytest.param(b'{"stream": {"fps": NaN}}', "NaN is not a number JSON allows", id="nan"),
    pytest.param(
        b'{"temperature": Infinity}', "Infinity is not a number JSON allows", id="infinity"
    ),
    pytest.param(
        b'{"temperature": -Infinity}', "-Infinity is not a number JSON allows", id="minus-infinity"
    ),
    pytest.param(b"[" * 5000 + b"]" * 5000, "not usable JSON: nested too deeply", id="deep"),
    pytest.param(
        b'{"x": ' + b"1" * 5000 + b"}",
        "not usable JSON: Exceeds the limit (4300 digits) for integer string conversion",
        id="endless-integer",
    ),
    pytest.param(
        b'{"x": "' + b"a" * 16400 + b'"}',
        "payload of 16409 bytes exceeds the 16384 byte limit",
        id="oversized",
    ),
]


@pytest.mark.parametrize(("payload", "reason"), PAYLOAD_ERRORS)
def test_unusable_payloads(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_payload(CAMERA, payload)
    assert caught.value.reason == reason
    assert str(caught.value) == reason


def test_limit_is_the_profiles() -> None:
    payload = b'{"state": "ok", "obs": 1, "fw": "' + b"v" * 300 + b'"}'
    assert len(decode_payload(CAMERA.model_copy(update={"max_payload_bytes": 1024}), camera())) == 8
    with pytest.raises(PayloadError, match=r"^payload of 335 bytes exceeds the 256 byte limit$"):
        decode_payload(DETECTOR, payload)
