"""Config errors that say exactly where the problem is: file, line, field and the bad value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import FiregwError

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in one place: `site.yaml:42: devices[7].zone: unknown zone 'op-2f'`.

    A `warning` is something that looks wrong but may be meant (a transmitter range that
    looks like kPa): the site still loads, and it reads `file:line: warning: field: message`.

    The text is always one line of printable characters: a control character that came from
    the file (in a key, say) is shown escaped, so it can neither split the line nor reach the
    terminal as an escape sequence.
    """

    file: Path
    line: int | None
    field: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        name = printable(self.file.name)
        where = name if self.line is None else f"{name}:{self.line}"
        severity = " warning:" if self.warning else ""
        field = f" {printable(self.field)}:" if self.field else ""
        return f"{where}:{severity}{field} {printable(self.message)}"


class ConfigError(FiregwError):
    """A config that cannot be used, with every problem found in it, in file order."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (str(i.file), i.line or 0))
        super().__init__("\n".join(str(issue) for issue in self.issues))


def format_field(path: tuple[Any, ...]) -> str:
    """`('devices', 7, 'zone')` -> `devices[7].zone`; a key that is not a plain name is shown
    quoted, `rules.zones['ward 3']`, so the field reads as what the file says."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def printable(text: str) -> str:
    """`text` with every control character escaped (`\\x1b`, `\\n`)."""
    return _UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], text)
