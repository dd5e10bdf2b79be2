"""`firegw run`: the gateway as a long-running service.

Around the gateway itself: the metrics and health endpoint (`--metrics`), and systemd's
notifications (READY once the gateway runs, the watchdog fed while it is well, STOPPING on the
way out; see `gateway.runtime.ServiceManager`). Either may be absent: outside systemd the
notifications are simply not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from firegw.version import version
from gateway.health import StatusReporter
from gateway.runtime import Gateway, ServiceManager

if TYPE_CHECKING:
    from gateway.health import MetricsServer


async def serve(
    gateway: Gateway,
    *,
    metrics: tuple[str, int] | None = None,
    manager: ServiceManager | None = None,
) -> None:
    """Run `gateway` until cancelled or until it ends, with its endpoints and notifications."""
    manager = manager if manager is not None else ServiceManager.from_environment()
    running = asyncio.create_task(gateway.run(), name="gateway")
    server = _metrics_server(gateway, metrics) if metrics is not None else None
    watchdog: asyncio.Task[None] | None = None
    try:
        await _started(gateway, running)
        if server is not None:
            await server.start()
        if manager is not None:
            manager.ready(f"running: {len(gateway.site.devices)} devices")
            well = lambda: not gateway.problems()  # noqa: E731
            watchdog = asyncio.create_task(manager.keep_watchdog_fed(well))
        await running
    finally:
        if manager is not None:
            manager.stopping()
        if watchdog is not None:
            watchdog.cancel()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running  # the outbox is flushed on the way out
        if server is not None:
            await server.stop()
        if manager is not None:
            manager.close()


async def _started(gateway: Gateway, running: asyncio.Task[None]) -> None:
    """Return once the gateway runs; if it ends first (a start-up failure), raise what it did."""
    started = asyncio.create_task(gateway.started.wait())
    try:
        await asyncio.wait({started, running}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        started.cancel()
    if running.done():
        await running


def _status(gateway: Gateway) -> StatusReporter:
    if gateway.status is None:  # the server starts only once the gateway runs
        raise RuntimeError("the gateway has not started")
    return gateway.status


def _metrics_server(gateway: Gateway, address: tuple[str, int]) -> MetricsServer:
    from gateway.health import MetricsServer  # noqa: PLC0415  # aiohttp's server, only for --metrics

    host, port = address
    return MetricsServer(
        document=lambda: _status(gateway).document(),
        problems=gateway.problems,
        site=gateway.site.config.site.id,
        version=version(),
        host=host,
        port=port,
    )
