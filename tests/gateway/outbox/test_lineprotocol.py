"""Line-protocol encoding: one table of readings and the exact lines they become."""

from __future__ import annotations

import pytest

from core.reading import Quality, Reading
from gateway.outbox.lineprotocol import LineProtocolError, encode, encode_point, series_key

T = 1_700_000_000_123_456_789
SITE = {"site": "campus", "building": "inpatient-1", "zone": "ward-3"}
HEAD = "smoke_detector,building=inpatient-1,device=sd-01,site=campus,zone=ward-3"


def reading(point: str = "status", value: object = None, **kwargs: object) -> Reading:
    return Reading(device="sd-01", point=point, value=value, observed_at=T, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "fields"),
    [
        pytest.param(reading("alarm", True), "alarm=true", id="bool-true"),
        pytest.param(reading("alarm", False), "alarm=false", id="bool-false"),
        pytest.param(reading("battery", 5), "battery=5i", id="int"),
        pytest.param(reading("battery", -(2**63)), f"battery={-(2**63)}i", id="int64-min"),
        pytest.param(reading("obscuration", 0.1), "obscuration=0.1", id="float"),
        pytest.param(reading("obscuration", 3.0), "obscuration=3.0", id="float-whole"),
        pytest.param(reading("obscuration", 1e-05), "obscuration=1e-05", id="float-small"),
        pytest.param(reading("obscuration", 1e16), "obscuration=1e+16", id="float-large"),
        pytest.param(reading("status", "fire"), 'status="fire"', id="string"),
        pytest.param(
            reading("status", 'say "hi" \\o/'), 'status="say \\"hi\\" \\\\o/"', id="string-escapes"
        ),
        pytest.param(reading("status", "a\nb"), 'status="a\nb"', id="string-newline-kept"),
        pytest.param(
            reading("status", None, quality=Quality.TIMEOUT),
            'status_quality="timeout"',
            id="bad-no-detail",
        ),
        pytest.param(
            reading("status", None, quality=Quality.EXCEPTION, detail='code 2 "illegal address"'),
            'status_quality="exception",status_detail="code 2 \\"illegal address\\""',
            id="bad-with-detail",
        ),
        pytest.param(
            reading("current", 25.1, quality=Quality.OUT_OF_RANGE, detail="above 21 mA"),
            'current=25.1,current_quality="out_of_range",current_detail="above 21 mA"',
            id="bad-with-value",
        ),
        pytest.param(
            reading("pressure", float("nan")),
            'pressure_quality="out_of_range",pressure_detail="not a finite number: nan"',
            id="nan",
        ),
        pytest.param(
            reading("pressure", float("-inf")),
            'pressure_quality="out_of_range",pressure_detail="not a finite number: -inf"',
            id="infinity",
        ),
        pytest.param(reading("a b,c=d", 1.5), "a\\ b\\,c\\=d=1.5", id="field-key-escapes"),
    ],
)
def test_fields_and_values(given: Reading, fields: str) -> None:
    assert encode(given, "smoke_detector", SITE) == f"{HEAD} {fields} {T}"


@pytest.mark.parametrize(
    ("measurement", "tags", "device", "head"),
    [
        pytest.param("m", {}, "d", "m,device=d", id="device-only"),
        pytest.param("m", {"zone": "z", "b": "x"}, "d", "m,b=x,device=d,zone=z", id="sorted"),
        pytest.param("m", {"zone": ""}, "d", "m,device=d", id="empty-value-left-out"),
        pytest.param("m", {"device": "other"}, "d", "m,device=d", id="reading-device-wins"),
        pytest.param("my m,x=y", {}, "d", "my\\ m\\,x=y,device=d", id="measurement-escapes"),
        pytest.param("m", {"a b": "c,d=e f"}, "d", "m,a\\ b=c\\,d\\=e\\ f,device=d", id="tags"),
        pytest.param("m", {"z": "a\tb\r\nc"}, "d", "m,device=d,z=a\\tb\\r\\nc", id="control"),
        pytest.param("m", {"z": "a\\b"}, "d", "m,device=d,z=a\\b", id="inner-backslash"),
        pytest.param(
            "m", {"z": "Station d'oxygène"}, "d", "m,device=d,z=Station\\ d'oxygène", id="unicode"
        ),
    ],
)
def test_measurement_and_tags(
    measurement: str, tags: dict[str, str], device: str, head: str
) -> None:
    given = Reading(device=device, point="v", value=1, observed_at=7)
    assert encode(given, measurement, tags) == f"{head} v=1i 7"


@pytest.mark.parametrize(
    ("measurement", "tags", "point", "value", "message"),
    [
        pytest.param("", {}, "v", 1, "cannot encode measurement '': must not be empty", id="m"),
        pytest.param(
            "#m",
            {},
            "v",
            1,
            "cannot encode measurement '#m': a line starting with '#' is a comment",
            id="comment",
        ),
        pytest.param(
            "m", {"": "x"}, "v", 1, "cannot encode tag key '': must not be empty", id="tag-key"
        ),
        pytest.param("m", {}, "", 1, "cannot encode field key '': must not be empty", id="field"),
        pytest.param(
            "m",
            {"zone": "a\\"},
            "v",
            1,
            "cannot encode tag value 'a\\\\': a backslash at the end or before a separator"
            " cannot be escaped",
            id="trailing-backslash",
        ),
        pytest.param(
            "m",
            {"zone": "a\\ b"},
            "v",
            1,
            "cannot encode tag value 'a\\\\ b': a backslash at the end or before a separator"
            " cannot be escaped",
            id="backslash-before-space",
        ),
        pytest.param(
            "m",
            {},
            "v",
            2**63,
            "cannot encode integer value 9223372036854775808: does not fit in a signed 64-bit"
            " integer",
            id="int-overflow",
        ),
    ],
)
def test_unencodable(
    measurement: str, tags: dict[str, str], point: str, value: int, message: str
) -> None:
    given = Reading(device="d", point=point, value=value, observed_at=1)
    with pytest.raises(LineProtocolError) as caught:
        encode(given, measurement, tags)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "reading",
    [
        Reading("SD 1", "status", "fire", observed_at=1),
        Reading(
            "HP-1", "pressure", None, Quality.OUT_OF_RANGE, detail="loop 2.1 mA", observed_at=2
        ),
        Reading("CAM=1", "fps", float("nan"), observed_at=3),
    ],
)
def test_a_precomputed_series_key_gives_the_same_line(reading: Reading) -> None:
    tags = {"site": "st lukes", "zone": "a,b", "building": "opd"}
    series = series_key("smoke_detector", {**tags, "device": reading.device})
    assert encode_point(series, reading) == encode(reading, "smoke_detector", tags)
