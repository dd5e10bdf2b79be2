"""`firegw rejected CONFIG`: what devices sent that the gateway could not use, as a table."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from gateway.config import Site
from gateway.health import RejectedEntry, read_rejected

CLIP = {"reason": 60, "payload": 60}
"""Characters of the reason and the payload a table row shows; `--full` shows all."""


_NOTHING_ARRIVED = (
    "(a device whose topic in the site file is not the one it publishes on receives nothing "
    "to reject: firegw status shows it lost, with the topic it waits on)"
)


def add_rejected_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `firegw rejected` on the CLI's subcommands."""
    rejected = commands.add_parser(
        "rejected", help="show MQTT payloads the gateway rejected (newest first)"
    )
    rejected.add_argument("config", type=Path)
    rejected.add_argument("--device", help="only this device's payloads")
    rejected.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    rejected.add_argument(
        "--full",
        action="store_true",
        help="print each payload whole (as kept), not clipped to a table",
    )
    rejected.set_defaults(command=show_rejected, log_level="warning")


def show_rejected(site: Site, args: argparse.Namespace) -> int:
    """Print the newest rejected payloads of the site; 1 when the store cannot be read."""
    path = site.rejected_payloads_path
    try:
        entries = read_rejected(path, args.device, max(args.limit, 0))
    except FileNotFoundError:
        print(f"no rejected payloads: {path} does not exist (nothing rejected yet)")
        print(_NOTHING_ARRIVED)
        return 0
    except sqlite3.Error as error:
        print(f"{path}: cannot read: {error}", file=sys.stderr)
        return 1
    if not entries:
        which = f" of device {args.device}" if args.device else ""
        print(f"no rejected payloads{which} in {path}")
        print(_NOTHING_ARRIVED)
        return 0
    print(blocks(entries) if args.full else table(entries))
    return 0


def table(entries: Sequence[RejectedEntry]) -> str:
    """One row per entry: received, device, topic, reason, payload (both clipped)."""
    header = ("received", "device", "topic", "reason", "payload")
    rows = [
        header,
        *(
            (
                when(e),
                e.device,
                e.topic,
                clip(e.reason, CLIP["reason"]),
                clip(shown(e), CLIP["payload"]),
            )
            for e in entries
        ),
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def blocks(entries: Sequence[RejectedEntry]) -> str:
    """Each entry in full: a heading line, the reason, and the payload as kept."""
    return "\n\n".join(
        f"{when(e)}  {e.device}  on {e.topic}\n  reason:  {e.reason}\n  payload: {shown(e)}"
        for e in entries
    )


def when(entry: RejectedEntry) -> str:
    """The time the payload was received, local time to the second."""
    return datetime.fromtimestamp(entry.received_at / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def shown(entry: RejectedEntry) -> str:
    """The payload as text: invalid UTF-8 and control characters escaped, truncation said."""
    text = entry.payload.decode("utf-8", errors="backslashreplace")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if entry.truncated:
        text += f" ... ({entry.size} bytes received, first {len(entry.payload)} kept)"
    return text


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
