"""Test sites: the demo clinic on free ports, pointed at the test's own broker and database."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.operators import operators_yaml
from tests.servers import free_port

CONFIG = Path(__file__).resolve().parent.parent / "config"


def clinic_site(
    folder: Path,
    *,
    mqtt_port: int,
    influx_url: str | None = None,
    database: str = "firegw",
    poll_interval: str = "500ms",
) -> Path:
    """Write `config/demo.yaml` with fresh Modbus ports, the given broker and InfluxDB, and
    the test operators (`tests.operators`)."""
    return copy_site(
        CONFIG / "demo.yaml",
        folder,
        mqtt_port=mqtt_port,
        influx_url=influx_url,
        database=database,
        poll_interval=poll_interval,
    )


def reference_site(folder: Path, *, mqtt_port: int, poll_interval: str = "1s") -> Path:
    """`config/hospital.yaml` (195 devices, 8 Modbus endpoints, 40 cameras) as `clinic_site`
    writes the demo's."""
    return copy_site(
        CONFIG / "hospital.yaml", folder, mqtt_port=mqtt_port, poll_interval=poll_interval
    )


def copy_site(
    source: Path,
    folder: Path,
    *,
    mqtt_port: int,
    influx_url: str | None = None,
    database: str = "firegw",
    poll_interval: str = "500ms",
) -> Path:
    """A shipped site file on fresh Modbus ports, the test's broker (and InfluxDB), topics
    of its own, the outbox in `folder`, and the test operators."""
    text = source.read_text()
    text = re.sub(r"port: 15[01]\d\d", lambda _: f"port: {free_port()}", text)
    text = text.replace("port: 1883", f"port: {mqtt_port}")
    # Alarm states are retained on the broker: each site gets topics of its own.
    text = text.replace("topic_prefix: firegw", f"topic_prefix: test-{uuid.uuid4().hex[:10]}")
    text = text.replace("profiles: [profiles/]", f"profiles: [{CONFIG / 'profiles'}]")
    text = re.sub(r"\.\./var/[a-z-]+-outbox\.sqlite", str(folder / "outbox.sqlite"), text)
    defaults = f"defaults: {{poll_interval: {poll_interval}, supervision_polls: 3}}"
    text, replaced = re.subn(r"(?m)^defaults: .*$", defaults, text)
    text += "" if replaced else f"\n{defaults}\n"
    if influx_url:
        text += f"\ninfluxdb: {{api: v1, url: '{influx_url}', database: {database}}}\n"
    text += "\n" + operators_yaml(folder)
    site = folder / "site.yaml"
    site.write_text(text)
    return site


async def eventually(
    check: Callable[[], Awaitable[bool] | bool], *, within: float = 30.0, what: str = "condition"
) -> None:
    """Wait until `check()` is true, polling; fail with `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.1)


def panel_site(
    folder: Path,
    endpoint: str,
    *,
    units: tuple[int, ...] = (1,),
    detectors: int = 6,
    poll_interval: str = "100ms",
) -> Path:
    """A Modbus-only site: `detectors` panel detectors per unit at addresses 0, 4, 8, ...
    named SD-<unit>-<n> (n from 1), all on the one endpoint given as a YAML flow mapping."""
    devices = [
        f"  - {{id: SD-{unit}-{n + 1}, kind: smoke_detector, zone: ward, "
        f"profile: panel-detector, source: {{endpoint: panel, unit: {unit}, address: {4 * n}}}}}"
        for unit in units
        for n in range(detectors)
    ]
    site = folder / "panel.yaml"
    site.write_text(
        "site: {id: test, name: Test ward}\n"
        "buildings: [{id: main, name: Main}]\n"
        "zones: [{id: ward, building: main, name: Ward}]\n"
        f"profiles: [{CONFIG / 'profiles'}]\n"
        f"modbus:\n  endpoints:\n    - {endpoint}\n"
        f"defaults: {{poll_interval: {poll_interval}, supervision_polls: 3}}\n"
        "devices:\n" + "\n".join(devices) + "\n"
    )
    return site
