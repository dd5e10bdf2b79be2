"""Reading a secret from where the site file says it is, and refusing it when it is not usable.

`firegw check` and the gateway at start read every secret through these functions, so what
the check accepts is what the gateway will get: a variable that is set, or a regular file of
UTF-8 text, not empty, one line (surrounding blanks and the final newline are dropped), and
not writable by every user of the box (anyone could then choose what the gateway sends as
its password). A file every user can read is a warning, not an error: Docker and Kubernetes
mount secrets readable by all by default, and inside a container that is usually all right.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from gateway.config.textfile import TextFileError, read_text_file

MAX_SECRET_BYTES = 64 * 1024
"""A password or token is at most a few kilobytes; a larger file is not a secret file."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SecretError(LookupError):
    """A secret that is not there or cannot be used; the message names the reference."""


def read_env_secret(name: str) -> str:
    """The value of environment variable `name`, as it is."""
    value = os.environ.get(name)
    if value is None:
        raise SecretError(f"environment variable {name} is not set")
    return _usable(value, f"environment variable {name}")


def read_file_secret(file: Path) -> str:
    """The text of secret file `file`, without surrounding blanks and the final newline."""
    what = f"secret file {str(file)!r}"
    try:
        text = read_text_file(file, MAX_SECRET_BYTES)
    except TextFileError as error:
        raise SecretError(f"cannot read {what}: {error.reason}") from None
    mode = _mode(file)
    if mode is not None and mode & stat.S_IWOTH:
        raise SecretError(
            f"{what} can be changed by every user on this machine (mode {mode:04o}): "
            f"chmod o-w it (0400 or 0600, owned by the gateway's user)"
        )
    return _usable(text.strip(), what)


def file_warning(file: Path) -> str | None:
    """Why secret file `file` looks exposed (every user may read it), or None."""
    mode = _mode(file)
    if mode is None or not mode & stat.S_IROTH:
        return None
    return (
        f"secret file {str(file)!r} can be read by every user on this machine (mode "
        f"{mode:04o}): chmod o-r it unless it is a container's secret mount"
    )


def _usable(value: str, what: str) -> str:
    if not value.strip():
        raise SecretError(f"{what} is empty")
    if _CONTROL.search(value):
        raise SecretError(
            f"{what} holds more than one line or a control character: "
            "a secret is one password or token"
        )
    return value


def _mode(file: Path) -> int | None:
    try:
        return stat.S_IMODE(file.stat().st_mode)
    except (OSError, ValueError):
        return None
