"""What every part of firegw shares: the reading, and one way to handle failure.

- `Reading`, `Quality`, `Value`, `ReadingSink`: what drivers produce and the rest consume.
- `Backoff`: exponential backoff with jitter, for every retry, reconnect and restart.
- `ConnectionHealth`: a connection's state and its log lines (first failure, recovery).
- `supervise` and `Boundary`: the only two places that catch every error; `supervise` keeps
  a long-lived task running, a `Boundary` keeps one batch's or one command's failure from
  travelling back to whoever handed it over.
- `RateLimit`: log lines that must not flood.
- `FiregwError`: the base of the errors raised on purpose, whose fields decide what happens.
"""

from core.backoff import FULL_JITTER, Backoff
from core.boundary import Boundary, RateLimit
from core.connection import ConnectionHealth
from core.errors import FiregwError
from core.reading import Quality, Reading, ReadingSink, Value, now_ns
from core.tasks import restarts, supervise

__all__ = [
    "FULL_JITTER",
    "Backoff",
    "Boundary",
    "ConnectionHealth",
    "FiregwError",
    "Quality",
    "RateLimit",
    "Reading",
    "ReadingSink",
    "Value",
    "now_ns",
    "restarts",
    "supervise",
]
