"""Every command, accepted or refused, as an audit entry: who, role, what, result and reason.

IEC 62443-4-2 CR 2.8: the security office can always say who acknowledged, shelved, reset or
took out of service which alarm, and what was refused to whom. Each entry is logged (control
characters escaped, so a crafted name cannot forge log lines), stored with the alarms, and
written to InfluxDB as measurement `command`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from gateway.alarms.commands import Command, CommandError
from gateway.alarms.lines import escape_tag, string_field
from gateway.operators import Identity
from rules import CommandResult

__all__ = ["MEASUREMENT", "AuditEntry", "printable"]

MEASUREMENT = "command"
_SHOWN = 120


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One command as the gateway judged it. `by` is who the command claimed to come from;
    `role` is set only when the gateway identified that operator."""

    at: int
    action: str
    target: str
    by: str
    role: str | None
    ok: bool
    reason: str | None
    request_id: str | int | None

    @classmethod
    def of(
        cls, request: Command | CommandError, who: Identity | None, result: CommandResult, at: int
    ) -> Self:
        return cls(
            at=at,
            action=str(request.action or ""),
            target=request.alarm or "",
            by=request.by or "",
            role=who.role if who is not None else None,
            ok=result.ok,
            reason=result.reason,
            request_id=request.request_id,
        )

    def __str__(self) -> str:
        """The log line: `command acknowledge on fire:SD-1 by chen.wei (guard): accepted`."""
        who = printable(self.by) or "nobody"
        if self.role is not None:
            who = f"{who} ({self.role})"
        outcome = "accepted" if self.ok else f"refused: {printable(self.reason or '')}"
        action, target = printable(self.action) or "?", printable(self.target) or "?"
        return f"command {action} on {target} by {who}: {outcome}"

    def line(self, site: str) -> str:
        """InfluxDB line protocol: tags site, action, result; the rest as fields."""
        tags = f"site={escape_tag(site)},result={'accepted' if self.ok else 'refused'}"
        if self.action:
            tags += f",action={escape_tag(self.action)}"
        fields = {
            "target": string_field(self.target),
            "by": string_field(self.by),
            "role": string_field(self.role or ""),
            "reason": string_field(self.reason or ""),
            "request_id": string_field("" if self.request_id is None else str(self.request_id)),
        }
        text = ",".join(f"{key}={value}" for key, value in fields.items())
        return f"{MEASUREMENT},{tags} {text} {self.at}"


def printable(text: str, limit: int = _SHOWN) -> str:
    """`text` fit for one log line: control and other unprintable characters escaped (a
    newline becomes `\\n`, an ANSI escape `\\x1b`), and cut at `limit` characters."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}..."
