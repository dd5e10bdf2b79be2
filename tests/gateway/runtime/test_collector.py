"""The `firegw` command starts with the cyclic garbage collector off (`firegw.entry`); the
gateway turns it on once it has started, with what start-up built frozen out of its sight.
Left off, cyclic garbage would pile up for as long as the gateway runs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from pathlib import Path

from firegw.main import main
from gateway.config import load_site
from gateway.runtime.gateway import Gateway
from tests.servers import MosquittoServer
from tests.sites import CONFIG, clinic_site


async def test_the_running_gateway_collects_garbage_even_when_started_without(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    site = load_site(clinic_site(tmp_path, mqtt_port=mosquitto.port))
    gateway = Gateway(site)
    gc.disable()
    try:
        task = asyncio.create_task(gateway.run())
        await asyncio.wait_for(gateway.started.wait(), 30)
        assert gc.isenabled()
        assert gc.get_freeze_count() > 10_000  # the site's objects, out of the collector's way
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        gc.unfreeze()
        gc.enable()


def test_every_other_command_turns_the_collector_back_on_at_once() -> None:
    gc.disable()
    try:
        assert main(["check", str(CONFIG / "hospital.yaml")]) == 0
        assert gc.isenabled()
    finally:
        gc.enable()
