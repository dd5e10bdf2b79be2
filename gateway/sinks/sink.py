"""What every sink promises: the outbox delivered to one database, nothing dropped."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from gateway.outbox import Outbox

__all__ = ["Sink"]


class Sink(Protocol):
    """One database that the outbox is delivered to (`OutboxSink` implements it).

    Lifecycle: enter ``async with sink:``, run `run(outbox)` in a task, and leave the block
    only after that task has ended; leaving releases the connection. `run` delivers from the
    sink's own position in the outbox until cancelled, and moves that position on only past
    lines the server acknowledged, or set aside as dead letters after the server refused them
    as they are. A server that is down or slow is retried with backoff (or as its
    ``Retry-After`` asks), forever: nothing is ever dropped. `wake` never blocks.
    """

    name: str
    url: str
    """The server as it may be shown in logs and the status: any user name, password or
    query replaced by `***`."""
    written: int
    """Lines the server has acknowledged."""
    rejected: int
    """Lines set aside as dead letters."""
    last_success: float | None
    """Wall-clock seconds of the last accepted write."""

    @property
    def last_error(self) -> str | None:
        """The most recent failure, None once a write succeeds again."""
        ...

    def wake(self) -> None:
        """Tell an idle sink that new lines are waiting."""
        ...

    async def run(self, outbox: Outbox) -> None:
        """Deliver `outbox` until cancelled."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
