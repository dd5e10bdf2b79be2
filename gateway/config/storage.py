"""Can the gateway keep its files where the site file says? Checked by `firegw check` and at start.

The outbox (`outbox.path`) and, beside it, the alarm store (`<outbox>-alarms.sqlite`) and the
rejected payloads (`<outbox>-rejected.sqlite`) are SQLite files that the gateway opens for
writing, with their journal files in the same folder. Each must be a regular file or not exist
yet, and the folder must exist and be writable, or be creatable: otherwise the gateway could
not store a single reading, and would find out only when it starts.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

from gateway.config.textfile import file_kind

STORES = (
    ("outbox", ""),
    ("alarm store", "-alarms"),
    ("rejected payloads", "-rejected"),
    ("uplink queue", "-uplink"),
)
"""Each file kept beside the outbox: what it is, and what its name adds to the outbox's stem."""


def storage_problems(outbox: Path) -> Iterator[str]:
    """What stops the gateway from keeping its files at `outbox`, one message each."""
    for what, suffix in STORES:
        path = outbox.with_name(f"{outbox.stem}{suffix}{outbox.suffix}") if suffix else outbox
        kind = file_kind(path)
        if kind is not None:
            yield f"the {what} {str(path)!r} is {kind}: give the path of a file, such as " + (
                "/var/lib/firegw/outbox.sqlite"
            )
        elif path.exists() and not os.access(path, os.R_OK | os.W_OK):
            yield f"the {what} {str(path)!r} cannot be written by {_user()}"
    problem = _folder_problem(outbox.parent)
    if problem is not None:
        yield problem


def _folder_problem(folder: Path) -> str | None:
    """Why files cannot be created in `folder` (or `folder` itself, with its parents), or None."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() and existing == folder:
        return f"the outbox's folder {str(folder)!r} is not a folder"
    if not existing.is_dir():
        return f"cannot create the folder {str(folder)!r}: {str(existing)!r} is not a folder"
    if os.access(existing, os.W_OK | os.X_OK):
        return None
    if existing == folder:  # a volume mounted for another owner, as often as not
        return (
            f"the folder {str(folder)!r} cannot be written by {_user()}: give it to that user "
            f"(chown {os.geteuid()}:{os.getegid()} {folder}) or set another outbox.path"
        )
    return f"cannot create the folder {str(folder)!r}: {str(existing)!r} cannot be written by " + (
        _user()
    )


def _user() -> str:
    """This process's user, as the messages name it: `user firegw`."""
    uid = os.geteuid()
    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:  # a container's user without an entry in /etc/passwd
        return f"user id {uid}"
