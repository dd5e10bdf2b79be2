"""People's commands as they arrive on the command topic: parsed and checked as a whole.

A command that cannot be parsed is refused here with a reason; one that parses goes to the
rules engine, which refuses what makes no sense for the alarm. Nothing is ever half-applied.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core import FiregwError, JsonError, parse_json
from rules import Action

MAX_COMMAND_BYTES = 8192
"""A command is a few hundred bytes; anything much larger is not one."""
MAX_REQUEST_ID = 128

_ENVELOPE = frozenset({"action", "alarm", "by", "request_id", "at", "nonce", "signature"})
"""What every command carries: what, on which alarm, who, the sender's id for the reply, and
the proof that `by` sent it (gateway/operators/signing.py)."""
ARGUMENTS = frozenset({"duration"})
"""Fields an action may take beside the envelope (the rules engine checks which action takes
which); anything else is refused, so a stray field can never be mistaken for part of a command."""


class CommandError(FiregwError, ValueError):
    """A command refused before it reached the rules engine; `reason` goes into the reply."""

    def __init__(
        self,
        reason: str,
        request_id: Any = None,
        action: str | None = None,
        alarm: str | None = None,
        by: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id
        self.action = action
        self.alarm = alarm
        self.by = by


@dataclass(frozen=True, slots=True)
class Command:
    """One person's command: what, on which alarm (or device), who, and the action's arguments.

    `request_id` is whatever the sender put there; it is echoed back in the reply so the
    sender can match replies to commands. `proof` is the whole document as it arrived, for the
    signature check.
    """

    action: Action
    alarm: str
    by: str
    args: Mapping[str, Any] = field(default_factory=dict)
    request_id: Any = None
    proof: Mapping[str, Any] = field(default_factory=dict)


def parse_command(payload: bytes) -> Command:
    """Parse a command document; raises `CommandError` with the reason when it is unusable.

    Checked in order: JSON object, action, alarm, by, no unknown fields.
    """
    document = _document(payload)
    action, alarm = _text(document.get("action")), _text(document.get("alarm"))
    by = _text(document.get("by"))
    try:
        request_id = _request_id(document.get("request_id"))
        return Command(
            _action(action),
            _named(alarm, "a command must name the alarm (alarm)"),
            _named(by, "a command must say who sent it (by)"),
            _arguments(document),
            request_id,
            document,
        )
    except ValueError as error:
        raise CommandError(str(error), _echoed(document), action, alarm, by) from None


def _document(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(
            f"a command of {len(payload)} bytes is too long (at most {MAX_COMMAND_BYTES})"
        )
    try:
        document = parse_json(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise CommandError("a command must be UTF-8 JSON") from None
    except JsonError as error:
        if error.syntax:  # in the parser's own words, which say where
            raise CommandError(f"a command must be JSON: {error.__cause__}") from None
        raise CommandError(f"a command must be strict JSON ({error.reason})") from None
    if not isinstance(document, dict):
        raise CommandError("a command must be a JSON object")
    return document


def _request_id(value: object) -> str | int | None:
    """The sender's id for the reply: a short string or an integer, echoed back as it came."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and len(value) <= MAX_REQUEST_ID:
        return value
    raise ValueError(
        f"request_id must be a string of at most {MAX_REQUEST_ID} characters or an integer"
    )


def _echoed(document: Mapping[str, Any]) -> str | int | None:
    """The request_id to echo in a refusal: the sender's, unless that is what was wrong."""
    try:
        return _request_id(document.get("request_id"))
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _action(action: str | None) -> Action:
    if not action:
        raise ValueError("a command must name its action (action)")
    if action not in set(Action):
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(Action)}")
    return Action(action)


def _named(text: str | None, reason: str) -> str:
    """A required, non-blank text field, without surrounding blanks."""
    if text is None or not text.strip():
        raise ValueError(reason)
    return text.strip()


def _arguments(document: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(document) - _ENVELOPE - ARGUMENTS)
    if unknown:
        raise ValueError(
            f"unknown field {', '.join(map(repr, unknown))}; a command has action, "
            "alarm, by, request_id, at, nonce, signature and, to shelve or take out of "
            "service, duration"
        )
    arguments = {key: value for key, value in document.items() if key in ARGUMENTS}
    for key, value in arguments.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"{key} must be a text such as 15m or a number of seconds")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{key} must be a finite number, got {value!r}")
    return arguments
