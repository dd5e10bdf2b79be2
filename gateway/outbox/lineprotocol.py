"""Encode readings as InfluxDB line protocol, the text both the v1 and v2 write APIs accept.

One reading becomes one line: ``measurement,tag=value,... field=value timestamp``. The
timestamp is the reading's observation time in nanoseconds, never the write time, so a
reading sent twice overwrites itself instead of becoming two points (at-least-once delivery
gives an exactly-once result).

Escaping follows the line-protocol reference: commas and spaces in the measurement; commas,
equals signs and spaces in tag keys, tag values and field keys; double quotes and backslashes
inside string field values. Tabs, carriage returns and newlines in names are written as the
two-character sequences ``\\t``, ``\\r`` and ``\\n`` (as Telegraf does), because line
protocol cannot carry them raw outside a quoted string.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping

from core import FiregwError, Quality, Reading, Value

__all__ = ["LineProtocolError", "encode"]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

_CONTROL = {"\t": "\\t", "\r": "\\r", "\n": "\\n"}
_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ ", **_CONTROL})
_KEY_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", **_CONTROL})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})
# InfluxDB 1.x reads a backslash as "take the next byte literally" and never unescapes "\\",
# so a backslash at the end of a name, or before a character that must be escaped, is ambiguous.
_MEASUREMENT_AMBIGUOUS = re.compile(r"\\(?=[, \t\r\n]|\Z)")
_KEY_AMBIGUOUS = re.compile(r"\\(?=[, =\t\r\n]|\Z)")


class LineProtocolError(FiregwError, ValueError):
    """A reading that line protocol cannot represent; names what and quotes the value.

    Attributes:
        what: which part of the line was wrong, for example ``"tag key"``.
        value: the offending text or number.
    """

    def __init__(self, what: str, value: object, reason: str) -> None:
        super().__init__(f"cannot encode {what} {value!r}: {reason}")
        self.what = what
        self.value = value


def encode(reading: Reading, measurement: str, tags: Mapping[str, str]) -> str:
    """Return one line-protocol line (without a trailing newline) for `reading`.

    The reading's device is always written as the ``device`` tag, beside `tags` (site,
    building, zone, ...); tags are sorted by key, which is the order InfluxDB stores them in
    and so the cheapest for the server to parse. A tag with an empty value is left out, since
    line protocol has no empty tag values and InfluxDB treats a missing tag as empty anyway.

    Fields: a reading with a value writes ``<point>=<value>``. A reading whose quality is not
    good also writes ``<point>_quality="<quality>"`` and, when it has one,
    ``<point>_detail="<detail>"``; a bad reading without a value writes only those. A float
    that is not finite (NaN, infinity) cannot be stored by InfluxDB, so it is written as
    quality ``out_of_range`` with the number in the detail instead of being dropped.

    Raises:
        LineProtocolError: a name is empty, ends in a backslash, or the measurement starts
            with ``#``; or an integer does not fit in 64 bits.
    """
    return encode_point(series_key(measurement, {**tags, "device": reading.device}), reading)


def series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """The escaped ``measurement,tag=value,...`` head of a line, to compute once per device.

    Escaping and checking the same tags for every reading was most of the gateway's cost per
    reading (bench/throughput.py); the hot path encodes only the fields.
    """
    return _escape_measurement(measurement) + _encode_tags(tags)


def encode_point(series: str, reading: Reading) -> str:
    """A line for `reading` under a head from `series_key`; the fields as `encode` writes them."""
    value = reading.value
    if reading.quality is Quality.GOOD and value is not None and _finite(value):
        # most readings: one good value, its one field written at once
        return f"{series} {_field_key(reading.point)}={_encode_value(value)} {reading.observed_at}"
    fields = ",".join(f"{_field_key(key)}={text}" for key, text in _fields(reading))
    return f"{series} {fields} {reading.observed_at}"


@functools.lru_cache(maxsize=4096)
def _field_key(name: str) -> str:
    """A field key, escaped: the same few point names come in every poll of every device."""
    return _escape_key("field key", name)


def _finite(value: Value) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _fields(reading: Reading) -> list[tuple[str, str]]:
    """The (key, encoded value) pairs for one reading, value first."""
    value, quality, detail = reading.value, reading.quality, reading.detail
    if isinstance(value, float) and not math.isfinite(value):
        value, quality, detail = None, Quality.OUT_OF_RANGE, f"not a finite number: {value}"
    fields = [] if value is None else [(reading.point, _encode_value(value))]
    if quality is not Quality.GOOD or value is None:
        fields.append((f"{reading.point}_quality", _encode_string(str(quality))))
        if detail:
            fields.append((f"{reading.point}_detail", _encode_string(detail)))
    return fields


def _encode_value(value: Value) -> str:
    """A field value: booleans as true/false, integers with the ``i`` suffix, strings quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise LineProtocolError(
                "integer value", value, "does not fit in a signed 64-bit integer"
            )
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return _encode_string(value)


def _encode_string(text: str) -> str:
    return f'"{text.translate(_STRING_ESCAPES)}"'


def _encode_tags(tags: Mapping[str, str]) -> str:
    """``,key=value`` for every tag with a value, sorted by key."""
    return "".join(
        f",{_escape_key('tag key', key)}={_escape_key('tag value', value)}"
        for key, value in sorted(tags.items())
        if value
    )


def _escape_measurement(name: str) -> str:
    if name.startswith("#"):
        raise LineProtocolError("measurement", name, "a line starting with '#' is a comment")
    _check("measurement", name, _MEASUREMENT_AMBIGUOUS)
    return name.translate(_MEASUREMENT_ESCAPES)


def _escape_key(what: str, name: str) -> str:
    _check(what, name, _KEY_AMBIGUOUS)
    return name.translate(_KEY_ESCAPES)


def _check(what: str, name: str, ambiguous: re.Pattern[str]) -> None:
    """Refuse names line protocol cannot carry: empty, or with an ambiguous backslash."""
    if not name:
        raise LineProtocolError(what, name, "must not be empty")
    if ambiguous.search(name):
        raise LineProtocolError(
            what, name, "a backslash at the end or before a separator cannot be escaped"
        )
