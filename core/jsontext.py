"""JSON from outside the box, parsed within bounds: no NaN, no endless nesting, no huge ints.

A payload from a device or a command from a person is untrusted. Python's `json` accepts NaN
and Infinity, overflows the stack on a few thousand nested brackets (RecursionError), and
refuses integers of over 4,300 digits with a ValueError; `parse_json` turns each into a
`JsonError` whose reason a person can read.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from core.errors import FiregwError

__all__ = ["JsonError", "parse_json"]


class JsonError(FiregwError, ValueError):
    """Text that is not usable JSON; `reason` says why, and `syntax` whether it is not JSON
    at all (rather than JSON beyond the bounds)."""

    def __init__(self, reason: str, *, syntax: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.syntax = syntax


def parse_json(text: str) -> Any:
    """The JSON value of `text`; raises `JsonError` for anything strict JSON does not allow."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except JsonError:
        raise
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise JsonError(where, syntax=True) from exc
    except RecursionError as exc:
        raise JsonError("not usable JSON: nested too deeply") from exc
    except ValueError as exc:  # an integer of over 4300 digits: Python refuses to convert it
        raise JsonError(f"not usable JSON: {str(exc).split(':', 1)[0]}") from exc


def _refuse_constant(name: str) -> NoReturn:
    raise JsonError(f"{name} is not a number JSON allows")
