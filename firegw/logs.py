"""Where the log goes, and in which form: a terminal, the systemd journal, or JSON lines.

- `text` (a terminal, a file): `2026-12-01T12:35:31.170+08:00 WARNING gateway.sinks: ...`,
  the time with its zone, so lines from boxes in two time zones (or across a clock change)
  can be put side by side.
- `journal` (chosen by itself under systemd): `<4>gateway.sinks: ...`. journald stamps every
  line itself, so there is no time of our own, and the `<N>` prefix is the line's syslog
  priority (3 error, 4 warning, 6 info, 7 debug), which `journalctl -p warning` filters on.
- `json`: one JSON object per line (`time` in UTC, `level`, `logger`, `message`, and
  `traceback` when there is one), for a log shipper.

Every record is one line in every form: a traceback is folded into the line (JSON) or each of
its lines carries the record's priority (journal).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import TextIO

__all__ = ["PRIORITIES", "LogForm", "setup_logging"]


class LogForm(StrEnum):
    AUTO = "auto"
    TEXT = "text"
    JOURNAL = "journal"
    JSON = "json"


PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
"""Python's levels as syslog priorities (sd-daemon(3): `<3>` error ... `<7>` debug)."""


HANDLER_NAME = "firegw"
"""The name of the handler `setup_logging` installs, so that a second call replaces it and
leaves any other handler (a test runner's) alone."""


def setup_logging(level: str, form: LogForm = LogForm.AUTO, stream: TextIO | None = None) -> None:
    """Log to `stream` (standard error) at `level` in `form`; `auto` is `journal` when
    standard error is connected to the journal, `text` otherwise."""
    stream = stream if stream is not None else sys.stderr
    if form is LogForm.AUTO:
        form = LogForm.JOURNAL if to_the_journal(stream) else LogForm.TEXT
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_FORMATTERS[form]())
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in root.handlers[:]:
        if old.get_name() == HANDLER_NAME:  # set up before: replaced, never doubled
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def to_the_journal(stream: TextIO) -> bool:
    """Whether `stream` is the journal: systemd sets JOURNAL_STREAM to the device and inode of
    the stream it connected (systemd.exec(5)); a redirected standard error is not it."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = expected.partition(":")
    if not device or not inode:
        return False
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return f"{status.st_dev}:{status.st_ino}" == expected


class TextFormatter(logging.Formatter):
    """`<ISO time with zone> <LEVEL> <logger>: <message>`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created).astimezone()
        return moment.isoformat(timespec="milliseconds")


class JournalFormatter(logging.Formatter):
    """`<priority>logger: message`, each line of a traceback with the same priority."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def priority(level: int) -> int:
    """The syslog priority of a Python level (levels between are rounded down to the next)."""
    for threshold in sorted(PRIORITIES, reverse=True):
        if level >= threshold:
            return PRIORITIES[threshold]
    return PRIORITIES[logging.DEBUG]


_FORMATTERS: dict[LogForm, type[logging.Formatter]] = {
    LogForm.TEXT: TextFormatter,
    LogForm.JOURNAL: JournalFormatter,
    LogForm.JSON: JsonFormatter,
}
