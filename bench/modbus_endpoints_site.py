"""The reference site laid out as one Modbus TCP endpoint per device, and scaled.

Buildings often have one small Modbus TCP I/O module per hydrant or per floor instead of one
panel gateway for many devices: every Modbus device of the site gets an endpoint of its own
(`<device>-io`, on a free loopback port, with its old endpoint's timeout), so that the
gateway keeps one connection per device. `copies` > 1 first repeats every zone, endpoint and
device that many times, as `bench.site.write_site` does (1,950 endpoints at 10x, cameras
aside). Used by the Modbus endpoints benchmark and by the slow-start system test.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path
from typing import Any

import yaml

from bench.site import _scale
from firegw.embedded_broker import LOWEST_PORT, ephemeral_low


def quiet_ports(count: int) -> list[int]:
    """`count` loopback ports nobody listens on now, below the kernel's ephemeral range: a
    thousand ports picked from it would be taken, now and then, by some other process's
    outgoing connection before the simulators listen on them."""
    low = ephemeral_low()
    candidates = list(range(LOWEST_PORT, low))
    random.shuffle(candidates)
    ports: list[int] = []
    with contextlib.ExitStack() as stack:
        for port in candidates:
            probe = stack.enter_context(socket.socket())
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"fewer than {count} free ports between {LOWEST_PORT} and {low}")


def one_endpoint_per_device(document: dict[str, Any], *, copies: int = 1) -> dict[str, Any]:
    """`document` (a parsed site file) with `copies` of everything, then one endpoint per
    Modbus device; returns it (changed in place)."""
    if copies > 1:
        _scale(document, range(copies))
    modbus = document["modbus"]
    old = {endpoint["id"]: endpoint for endpoint in modbus["endpoints"]}
    devices = [d for d in document["devices"] if "endpoint" in d["source"]]
    endpoints = []
    for device, port in zip(devices, quiet_ports(len(devices)), strict=True):
        own = f"{device['id'].lower()}-io"
        before = old[device["source"]["endpoint"]]
        endpoints.append({**before, "id": own, "host": "127.0.0.1", "port": port})
        device["source"] = {**device["source"], "endpoint": own}
    modbus["endpoints"] = endpoints
    return document


def rewrite(site_file: Path, *, copies: int = 1) -> Path:
    """Rewrite `site_file` (already on private ports) with one endpoint per device."""
    document = yaml.safe_load(site_file.read_text(encoding="utf-8"))
    one_endpoint_per_device(document, copies=copies)
    site_file.write_text(yaml.safe_dump(document, sort_keys=False, width=200), encoding="utf-8")
    return site_file
