"""`firegw audit CONFIG`: who did what to which alarm, and what was refused to whom.

The gateway keeps every command it judged in its alarm store (IEC 62443-4-2 CR 2.8); this
reads them, read-only, while the gateway runs. The store is readable only by the gateway's
account (mode 0600), so run it as that user, or as root.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from gateway.alarms import AuditEntry, printable, read_commands
from gateway.config import Site


def add_audit_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `firegw audit` on the CLI's subcommands."""
    audit = commands.add_parser(
        "audit", help="show the commands the gateway accepted and refused (newest last)"
    )
    audit.add_argument("config", type=Path)
    audit.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    audit.add_argument("--refused", action="store_true", help="only the refused ones")
    audit.set_defaults(command=show_audit, log_level="warning")


def show_audit(site: Site, args: argparse.Namespace) -> int:
    """Print the newest commands; 1 when the alarm store cannot be read."""
    path = site.alarm_store_path
    try:
        entries = read_commands(path, max(args.limit, 0) if not args.refused else 100_000)
    except FileNotFoundError:
        print(f"no commands: {path} does not exist (the gateway has not run here)")
        return 0
    except sqlite3.Error as error:
        print(f"{path}: cannot read: {error} (run as the gateway's user or root)", file=sys.stderr)
        return 1
    if args.refused:
        entries = [e for e in entries if not e.ok][-max(args.limit, 0) :]
    if not entries:
        print(f"no commands in {path}")
        return 0
    print(table(entries))
    return 0


def table(entries: Sequence[AuditEntry]) -> str:
    """One row per command: time, operator (role), action, target, result and reason."""
    header = ("time", "operator", "action", "target", "result")
    rows = [header]
    for e in entries:
        who = printable(e.by) or "-"
        role = f" ({e.role})" if e.role else ""
        result = "accepted" if e.ok else f"refused: {printable(e.reason or '')}"
        rows.append((_time(e.at), who + role, printable(e.action), printable(e.target), result))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
        + "  "
        + row[-1]
        for row in rows
    )


def _time(at: int) -> str:
    return datetime.fromtimestamp(at / 1e9).strftime("%Y-%m-%d %H:%M:%S")
