"""Config errors that say exactly where the problem is: file, line, field and the bad value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core import FiregwError


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in one place: `site.yaml:42: devices[7].zone: unknown zone 'op-2f'`.

    A `warning` is something that looks wrong but may be meant (a transmitter range that
    looks like kPa): the site still loads, and it reads `file:line: warning: field: message`.
    """

    file: Path
    line: int | None
    field: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = self.file.name if self.line is None else f"{self.file.name}:{self.line}"
        severity = " warning:" if self.warning else ""
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{severity}{field} {self.message}"


class ConfigError(FiregwError):
    """A config that cannot be used, with every problem found in it, in file order."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (str(i.file), i.line or 0))
        super().__init__("\n".join(str(issue) for issue in self.issues))


def format_field(path: tuple[str | int, ...]) -> str:
    """`('devices', 7, 'zone')` -> `devices[7].zone`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
