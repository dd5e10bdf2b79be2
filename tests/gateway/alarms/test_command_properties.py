"""Property tests: anything on the command topic parses to a `Command` or a `CommandError`.

Whoever can publish on `<prefix>/<site>/commands` can send any bytes. For arbitrary bytes,
command-shaped JSON documents (every field of any JSON type, NaN and 1e400 at any depth,
unknown fields, huge request ids) and JSON beyond the bounds (deep nesting, huge integers),
`parse_command` must return a `Command` whose fields are what the reply and the rules engine
expect, with no non-finite number anywhere in `args`, or raise `CommandError` with a reason;
nothing else.

Example counts are fixed and derandomized so that CI time stays bounded. (Hypothesis also
draws on constants of the modules loaded, so the examples differ a little between a run of
this file and of the whole suite: an example that found a bug is kept with `@example`.)
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.alarms.commands import (
    ARGUMENTS,
    MAX_REQUEST_ID,
    Command,
    CommandError,
    parse_command,
)
from rules import Action

BYTES_EXAMPLES = 300
DOCUMENT_EXAMPLES = 400
TEXT_EXAMPLES = 200


def examples(count: int) -> settings:
    return settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


class _Literal(str):
    """JSON written as is (a number literal that Python's json would not write)."""


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["1e400", "-1e400", "NaN", "Infinity"]).map(_Literal)
    | st.text(max_size=12)
)


def to_json(value: Any) -> str:
    """`json.dumps`, but `_Literal`s go in unquoted: 1e400, NaN."""
    if isinstance(value, _Literal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(item) for item in value) + "]"
    return json.dumps(value)


VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = ["action", "alarm", "by", "request_id", "duration"]


@st.composite
def command_documents(draw: st.DrawFn) -> bytes:
    """A JSON object with (some of) a command's fields, each right or of any type, and maybe
    a field no command has."""
    document: dict[str, Any] = {}
    good = {
        "action": st.sampled_from([action.value for action in Action]),
        "alarm": st.sampled_from(["fire:OPD-SD-001", " fire:x ", "pressure_low:HP-1", "", " "]),
        "by": st.sampled_from(["guard Chen", "Dr. Ng", " "]),
        "request_id": st.integers() | st.text(max_size=MAX_REQUEST_ID + 2),
        "duration": st.sampled_from(["15m", "1h", 900, 900.5, "61m"]),
    }
    for name in FIELDS:
        if draw(st.integers(0, 9)):  # present nine times in ten
            right = draw(st.integers(0, 4)) > 0 if name != "duration" else draw(st.booleans())
            document[name] = draw(good[name] if right else VALUES)
    if draw(st.integers(0, 9)) == 0:
        document[draw(st.text(min_size=1, max_size=6))] = draw(VALUES)
    return to_json(document).encode("utf-8", "surrogatepass")


TEXTS = st.one_of(
    st.text(max_size=40),
    st.builds(lambda n: "[" * n + "]" * n, st.integers(0, 4000)),
    st.builds(lambda n: '{"duration":' * n + "1" + "}" * n, st.integers(0, 1000)),
    st.builds(lambda n: '{"request_id": ' + "9" * n + "}", st.integers(1, 6000)),
    st.sampled_from(
        [
            '{"action": "shelve", "alarm": "a", "by": "b", "duration": 1e400}',
            '{"action": "shelve", "alarm": "a", "by": "b", "duration": NaN}',
            '{"action": "ack", "alarm": "a", "by": "b", "request_id": {"nested": 1}}',
            '{"action": "acknowledge", "alarm": "\\ud800", "by": "b"}',
            "\ufeff{}",
            "[]",
            "null",
        ]
    ),
)


def finite_throughout(value: Any) -> bool:
    """No NaN or infinity anywhere in `value`, however nested."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite_throughout(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(finite_throughout(item) for item in value)
    return True


def parsed(payload: bytes) -> Command | None:
    """The command, or None for a `CommandError` (with a reason); anything else fails."""
    try:
        command = parse_command(payload)
    except CommandError as error:
        refused = error
    else:
        assert isinstance(command.action, Action)
        assert command.alarm
        assert command.alarm == command.alarm.strip()
        assert command.by
        assert command.by == command.by.strip()
        assert set(command.args) <= ARGUMENTS
        assert finite_throughout(dict(command.args)), f"non-finite args: {command.args!r}"
        request_id = command.request_id
        assert request_id is None or type(request_id) is int or isinstance(request_id, str)
        assert not isinstance(request_id, str) or len(request_id) <= MAX_REQUEST_ID
        return command
    assert isinstance(refused.reason, str)
    assert refused.reason, "a CommandError without a reason"
    return None


@examples(BYTES_EXAMPLES)
@given(payload=st.binary(max_size=300))
def test_any_bytes_give_a_command_or_a_refusal(payload: bytes) -> None:
    parsed(payload)


@examples(DOCUMENT_EXAMPLES)
@given(payload=command_documents())
def test_a_command_document_of_any_shape_gives_a_command_or_a_refusal(payload: bytes) -> None:
    parsed(payload)


NESTED_INFINITY = (
    b'{"action": "acknowledge", "alarm": "fire:OPD-SD-001", "by": "guard Chen", '
    b'"duration": {"": 1e400}}'
)


@examples(DOCUMENT_EXAMPLES)
@given(payload=command_documents())
@example(payload=NESTED_INFINITY)  # found by this test: args were checked only at the top
def test_no_argument_holds_a_non_finite_number_at_any_depth(payload: bytes) -> None:
    parsed(payload)


@examples(TEXT_EXAMPLES)
@given(text=TEXTS)
def test_json_beyond_the_bounds_is_refused_with_a_reason(text: str) -> None:
    parsed(text.encode("utf-8", "surrogatepass"))
