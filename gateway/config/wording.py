"""Pydantic's validation errors as config errors: placed in the file, in the project's words.

Pydantic says "Input should be a valid integer, unable to parse string as an integer" and
names union members and tags (`modbus-source`, `str`) in an error's location as if they were
keys. Here every error is placed at the field the file actually has, and worded as a person
writing the file would put it: `expected a whole number, got 'two'`. A kind of error not
listed below keeps pydantic's text without its "Input should be", and the bad value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.config.errors import ConfigIssue
from gateway.config.yamlsource import Path_, YamlDocument

_SHOWN_CHARS = 60
_Words = Callable[[Mapping[str, Any], Any], str]
_PATTERNS = {
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$": (
        "an id is letters, digits, '_', '.' and '-', starting with a letter or digit"
    ),
    r"^[a-z][a-z0-9_]*$": "a name is lower-case letters, digits and '_', starting with a letter",
    r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$": (
        "a field path is names of letters, digits, '_' and '-' joined by '.'"
    ),
    r"^[0-9A-Fa-f]{3,16}$": "an account is 3 to 16 hex digits (0-9, A-F)",
    r"^[0-9A-Fa-f]{1,6}$": "a receiver or line number is 1 to 6 hex digits (0-9, A-F)",
    r"^[A-Z]{2}$": "a SIA event code is two capital letters, such as FA",
    r"^[ER][0-9]{3}$": (
        "a Contact ID event is E (new event) or R (restore) and three digits, such as E110"
    ),
}
"""What each pattern in the models and profiles means, in words."""


def place_errors(
    document: YamlDocument, error: ValidationError, tags: frozenset[str] = frozenset()
) -> list[ConfigIssue]:
    """Pydantic's errors, each at its field in `document`; `tags` are union tags that are never
    keys. Errors one union gives for the same field are merged into one."""
    found: dict[Path_, list[str]] = {}
    for detail in error.errors(include_url=False):
        path = _field_path(document.data, detail, tags)
        path, message = _deeper(path, message_of(detail))
        messages = found.setdefault(path, [])
        if message not in messages:
            messages.append(message)
    return [document.issue(path, _merged(messages)) for path, messages in found.items()]


def _field_path(data: Any, detail: Mapping[str, Any], tags: frozenset[str]) -> Path_:
    """The error's location as keys and indexes of the file: union tags and member names
    (`modbus-source`, `str`: not in the file) left out, a key the file lacks kept last."""
    loc = [part for part in detail["loc"] if part not in tags and part != "[key]"]
    path: list[Any] = []
    node = data
    for index, part in enumerate(loc):
        found, child = _child(node, part)
        if found:
            path.append(part)
            node = child
        elif index == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str):
            path.append(part)  # a key the file lacks: missing, or checked by a validator
    discriminator = str((detail.get("ctx") or {}).get("discriminator", "")).strip("'")
    if detail["type"].startswith("union_tag_") and discriminator.isidentifier():
        path.append(discriminator)  # the key that names the kind: `protocol:`, `type:`
    return tuple(path)


def _child(node: Any, part: Any) -> tuple[bool, Any]:
    """(True, the value at `part` of `node`) when the file has it there, else (False, None)."""
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    if isinstance(node, dict):
        try:
            return (True, node[part]) if part in node else (False, None)
        except TypeError:  # an unhashable part of a location is never a key
            return False, None
    return False, None


def _deeper(path: Path_, message: str) -> tuple[Path_, str]:
    """A model-level message that starts with a dotted key (`zones.x.on_delay: ...`) names
    where below `path` the problem is; move it into the path so the line is found."""
    key, separator, rest = message.partition(": ")
    if not separator or " " in key or "." not in key:
        return path, message
    return (*path, *key.split(".")), rest


def _merged(messages: list[str]) -> str:
    """`expected text, got 1.5` and `expected true or false, got 1.5` (one union's members)
    -> `expected text or true or false, got 1.5`."""
    if len(messages) == 1:
        return messages[0]
    wanted, got = [], set()
    for message in messages:
        head, separator, tail = message.rpartition(", got ")
        if not separator or not head.startswith("expected "):
            return "; ".join(messages)
        wanted.append(head.removeprefix("expected "))
        got.add(tail)
    if len(got) != 1:
        return "; ".join(messages)
    return f"expected {' or '.join(wanted)}, got {got.pop()}"


def message_of(detail: Mapping[str, Any]) -> str:
    """One pydantic error in the project's words, quoting the bad value where it helps."""
    kind = detail["type"]
    context: Mapping[str, Any] = detail.get("ctx") or {}
    if kind == "value_error":  # our own validators: quoting the value where it is no secret
        return str(detail["msg"]).removeprefix("Value error, ")
    words = _WORDS.get(kind)
    as_key = "as a key: " if tuple(detail["loc"][-1:]) == ("[key]",) else ""
    if words is not None:
        return as_key + words(context, detail.get("input"))
    text = str(detail["msg"]).removeprefix("Input should be ")
    return f"{as_key}{text} (got {shown(detail.get('input'))})"


def shown(value: Any) -> str:
    """A value as an error quotes it: its repr, shortened; a mapping or list by its kind."""
    if isinstance(value, BaseModel | dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing (an empty value)"
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}... ({len(text)} chars)"


def _expected(what: str) -> _Words:
    return lambda _context, value: f"expected {what}, got {shown(value)}"


def _bound(words: str, name: str) -> _Words:
    return lambda context, value: f"must be {words} {context[name]}, got {shown(value)}"


def _choice(context: Mapping[str, Any], value: Any) -> str:
    return f"expected {context['expected']}, got {shown(value)}"


def _pattern(context: Mapping[str, Any], value: Any) -> str:
    pattern = str(context.get("pattern", ""))
    meaning = _PATTERNS.get(pattern, f"it must match {pattern}")
    return f"{meaning} (got {shown(value)})"


def _too_short(context: Mapping[str, Any], value: Any) -> str:
    least = context.get("min_length", 1)
    return "cannot be empty" if least == 1 else f"needs at least {least} entries"


def _too_long(context: Mapping[str, Any], value: Any) -> str:
    return f"has more than {context.get('max_length')} entries"


def _text_length(words: str) -> _Words:
    def message(context: Mapping[str, Any], value: Any) -> str:
        limit = context.get("min_length") or context.get("max_length")
        return f"{words} {limit} characters (got {shown(value)})"

    return message


def _union_tag(context: Mapping[str, Any], value: Any) -> str:
    return f"expected one of {context.get('expected_tags', '')}, got {shown(context.get('tag'))}"


def _mapping(_context: Mapping[str, Any], value: Any) -> str:
    return f"expected a mapping (key: value, ...), got {shown(value)}"


_WORDS: dict[str, _Words] = {
    "missing": lambda _c, _v: "required, but missing",
    "extra_forbidden": lambda _c, _v: "unknown key",
    "invalid_key": lambda _c, _v: "unknown key",
    "string_type": _expected("text"),
    "int_type": _expected("a whole number"),
    "int_parsing": _expected("a whole number"),
    "int_from_float": _expected("a whole number"),
    "int_parsing_size": _expected("a whole number of at most 19 digits"),
    "float_type": _expected("a number"),
    "float_parsing": _expected("a number"),
    "finite_number": _expected("a finite number"),
    "bool_type": _expected("true or false"),
    "bool_parsing": _expected("true or false"),
    "path_type": _expected("a path"),
    "list_type": _expected("a list"),
    "tuple_type": _expected("a list"),
    "set_type": _expected("a list"),
    "dict_type": _mapping,
    "model_type": _mapping,
    "model_attributes_type": _mapping,
    "enum": _choice,
    "literal_error": _choice,
    "greater_than": _bound("more than", "gt"),
    "greater_than_equal": _bound("at least", "ge"),
    "less_than": _bound("less than", "lt"),
    "less_than_equal": _bound("at most", "le"),
    "string_pattern_mismatch": _pattern,
    "string_too_short": _text_length("needs at least"),
    "string_too_long": _text_length("may have at most"),
    "too_short": _too_short,
    "too_long": _too_long,
    "union_tag_invalid": _union_tag,
    "union_tag_not_found": lambda _c, _v: "required, but missing",
    "influx_api": lambda _c, _v: "api must be v1 or v2",
}
