"""What every part of firegw shares: the reading, and one way to handle failure.

- `Reading`, `Quality`, `Value`, `ReadingSink`: what drivers produce and the rest consume.
- `Backoff`: exponential backoff with jitter, for every retry and reconnect loop.
- `supervise`: keeps a long-lived task running; the one place that catches every error.
"""

from core.backoff import Backoff
from core.reading import Quality, Reading, ReadingSink, Value, now_ns
from core.tasks import restarts, supervise

__all__ = [
    "Backoff",
    "Quality",
    "Reading",
    "ReadingSink",
    "Value",
    "now_ns",
    "restarts",
    "supervise",
]
