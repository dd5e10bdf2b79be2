"""`/metrics` and `/healthz` over HTTP, for Prometheus and a container's healthcheck.

aiohttp's server is loaded with this module, which `gateway.health` imports only when it is
asked for: a gateway run without `--metrics` has no use for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from gateway.health.metrics import CONTENT_TYPE, Document, metrics_text

__all__ = ["MetricsServer"]

log = logging.getLogger(__name__)


@dataclass
class MetricsServer:
    """`/metrics` and `/healthz` over HTTP on `host`:`port`, while `run` runs.

    `document` builds the status document; `problems` says what is wrong with the gateway
    right now (empty when it is well): `/healthz` answers 200 `{"ok": true}`, or 503 with the
    problems.
    """

    document: Callable[[], Document]
    problems: Callable[[], Sequence[str]]
    site: str
    version: str
    host: str = "127.0.0.1"
    port: int = 9720
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, self.port).start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", self.host, self.port)

    async def stop(self) -> None:
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        text = metrics_text(self.document(), site=self.site, version=self.version)
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def _healthz(self, request: web.Request) -> web.Response:
        problems = list(self.problems())
        body = {"ok": not problems, "problems": problems}
        return web.Response(
            text=json.dumps(body), status=503 if problems else 200, content_type="application/json"
        )
