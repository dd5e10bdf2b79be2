"""Reading a small text file the site names (the site file, a profile, a secret), within bounds.

Whatever a path points at is read only if it is a regular file of at most `max_bytes` that is
UTF-8 text: a folder, a device (`/dev/zero` would never end), a pipe (would wait forever), a
file larger than any config, or binary data is refused with a reason a person can act on,
never a traceback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""A site file or profile: the reference site is 32 KB, 100 times its size is under 4 MB."""


class TextFileError(Exception):
    """Why a file cannot be read as text. For text that is not UTF-8, `line` and `byte` say
    where and what (a config error shows them; a secret's error does not)."""

    def __init__(self, reason: str, line: int | None = None, byte: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.byte = byte


def read_text_file(path: Path, max_bytes: int) -> str:
    """The file's text; raises `TextFileError` for anything but a regular UTF-8 file of at
    most `max_bytes` bytes. The file is checked before it is opened, then read at most one
    byte past the limit, so neither a device nor a huge file is ever read whole."""
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise TextFileError(f"not a regular file ({_kind(status.st_mode)})")
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise TextFileError(error.strerror or str(error)) from error
    except ValueError as error:  # a path with a NUL character in it
        raise TextFileError(str(error)) from error
    if len(data) > max_bytes:
        raise TextFileError(f"larger than {_size(max_bytes)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TextFileError("not UTF-8 text", line, data[error.start]) from error


def _kind(mode: int) -> str:
    """What a non-regular file is, in a word."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def file_kind(path: Path) -> str | None:
    """What `path` is when it exists and is not a regular file ("a folder", "a device"), None
    when it is a regular file or does not exist."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return None if stat.S_ISREG(mode) else _kind(mode)


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MB" if count >= 1024 * 1024 else f"{count} bytes"
