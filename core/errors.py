"""The base of the errors firegw raises on purpose.

Each subclass carries the data that decides what happens next: a `PollFailure`'s quality goes
into the device's readings, a `SinkError`'s `retryable` decides between sending again and
setting lines aside, a `CommandError`'s reason goes into the reply, a `ConfigError` lists every
problem with its file and line. Anything else that escapes is a bug.
"""

from __future__ import annotations

__all__ = ["FiregwError"]


class FiregwError(Exception):
    """An error raised on purpose, with a message written for a person: it names the device,
    file or server and what was wrong. `core.supervise` logs one without a traceback."""
