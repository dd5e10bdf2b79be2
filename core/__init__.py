"""What every part of firegw shares: the reading, and one way to handle failure.

- `Reading`, `Quality`, `Value`, `ReadingSink`: what drivers produce and the rest consume.
- `Backoff`: exponential backoff with jitter, for every retry, reconnect and restart.
- `ConnectionHealth`: a connection's state and its log lines (first failure, recovery).
- `supervise` and `Boundary`: the only two places that catch every error; `supervise` keeps
  a long-lived task running, a `Boundary` keeps one batch's or one command's failure from
  travelling back to whoever handed it over.
- `RateLimit`: log lines that must not flood.
- `parse_json`: JSON from outside the box, within bounds.
- `FiregwError`: the base of the errors raised on purpose, whose fields decide what happens.
"""

from core.backoff import FULL_JITTER, Backoff
from core.boundary import Boundary, RateLimit, quiet_loop_errors
from core.connection import ConnectionHealth
from core.errors import FiregwError
from core.jsontext import JsonError, parse_json
from core.reading import Quality, Reading, ReadingSink, Value, now_ns
from core.tasks import raise_if_stopping, restarts, stopping, supervise

__all__ = [
    "FULL_JITTER",
    "Backoff",
    "Boundary",
    "ConnectionHealth",
    "FiregwError",
    "JsonError",
    "Quality",
    "RateLimit",
    "Reading",
    "ReadingSink",
    "Value",
    "now_ns",
    "parse_json",
    "quiet_loop_errors",
    "raise_if_stopping",
    "restarts",
    "stopping",
    "supervise",
]
