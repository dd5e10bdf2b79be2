"""The site a benchmark plays: the reference site on private ports, scaled, or one building of it.

Every benchmark that runs the gateway as a process writes its site file with `write_site`: free
loopback ports for every Modbus endpoint, the benchmark's broker, absolute profile paths, the
outbox in the benchmark's temporary folder, and either no `influxdb:` (readings stay in the
outbox) or the benchmark's own InfluxDB.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SITE = REPO / "config" / "hospital.yaml"
RESULTS = REPO / "bench" / "results"


@dataclass(frozen=True)
class Influx:
    """An InfluxDB 1.x database the gateway writes to (`api: v1`)."""

    url: str
    database: str


@dataclass(frozen=True)
class Part:
    """One building of the site, as the site of a gateway of its own (a campus benchmark).

    The gateway's site id becomes `<site>-<building>` (and `-x<copy>` for a copy), so that every
    gateway has its own feed topics and MQTT client ids, as two real buildings' gateways would.
    """

    building: str
    copy: int = 0


def write_site(
    source: Path,
    folder: Path,
    *,
    mqtt_port: int,
    poll: float,
    scale: int = 1,
    influx: Influx | None = None,
    part: Part | None = None,
    name: str = "site",
    outbox: str = "outbox.sqlite",
) -> Path:
    """`source` with free loopback ports, `mqtt_port`, outbox in `folder`; returns the file.

    With `scale` > 1 every zone, Modbus endpoint and device is there `scale` times (copies
    are suffixed `-x<k>` / `-X<k>`), in the same buildings. With `part`, only that building
    (and copy) of the result. Readings go to `influx` when given, else they stay in the outbox
    (`folder/outbox`). The file is `folder/<name>.yaml`.
    """
    document = yaml.safe_load(source.read_text())
    base = source.resolve().parent
    document["profiles"] = [str((base / path).resolve()) for path in document["profiles"]]
    document["outbox"] = {"path": str(folder / outbox)}
    document.pop("influxdb", None)
    if influx is not None:
        document["influxdb"] = {"api": "v1", "url": influx.url, "database": influx.database}
    mqtt = {
        key: value
        for key, value in (document.get("mqtt") or {}).items()
        if key not in ("username", "password", "client_id")
    }
    document["mqtt"] = {**mqtt, "host": "127.0.0.1", "port": mqtt_port}
    document["defaults"] = {**(document.get("defaults") or {}), "poll_interval": poll}
    _scale(document, range(scale) if part is None else [part.copy])
    if part is not None:
        _keep_building(document, part)
    for endpoint, port in zip(
        document["modbus"]["endpoints"],
        free_ports(len(document["modbus"]["endpoints"])),
        strict=True,
    ):
        endpoint["port"] = port
    site_file = folder / f"{name}.yaml"
    site_file.write_text(yaml.safe_dump(document, sort_keys=False, width=200))
    return site_file


def building_ids(source: Path) -> list[str]:
    """The ids of the buildings of a site file, in its order."""
    return [building["id"] for building in yaml.safe_load(source.read_text())["buildings"]]


def free_ports(count: int) -> list[int]:
    """`count` different loopback ports nobody listens on now (all probes held open at once,
    so the kernel cannot hand out one port twice)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def _scale(document: dict[str, Any], copies: range | list[int]) -> None:
    document["zones"] = [
        {**zone, "id": _copy(zone["id"], k), "name": zone["name"] + (f" ({k})" if k else "")}
        for k in copies
        for zone in document["zones"]
    ]
    modbus = document["modbus"]
    modbus["endpoints"] = [
        {**endpoint, "id": _copy(endpoint["id"], k), "host": "127.0.0.1"}
        for k in copies
        for endpoint in modbus["endpoints"]
    ]
    document["devices"] = [
        _copy_device(device, k) for k in copies for device in document["devices"]
    ]


def _keep_building(document: dict[str, Any], part: Part) -> None:
    """Only `part`'s building, its zones, its devices and the endpoints they use."""
    site = document["site"]
    site["id"] = _copy(f"{site['id']}-{part.building}", part.copy)
    site["name"] = f"{site['name']} ({part.building}{f', copy {part.copy}' if part.copy else ''})"
    document["buildings"] = [b for b in document["buildings"] if b["id"] == part.building]
    if not document["buildings"]:
        raise ValueError(f"no building {part.building!r} in the site")
    document["zones"] = [z for z in document["zones"] if z["building"] == part.building]
    zones = {zone["id"] for zone in document["zones"]}
    document["devices"] = [d for d in document["devices"] if d["zone"] in zones]
    used = {d["source"].get("endpoint") for d in document["devices"]}
    modbus = document["modbus"]
    modbus["endpoints"] = [e for e in modbus["endpoints"] if e["id"] in used]
    devices = {device["id"] for device in document["devices"]}
    rules = document.get("rules") or {}
    for key, kept in (("zones", zones), ("devices", devices)):
        if key in rules:
            rules[key] = {name: value for name, value in rules[key].items() if name in kept}


def _copy(name: str, k: int, mark: str = "x") -> str:
    return name if k == 0 else f"{name}-{mark}{k}"


def _copy_device(device: dict[str, Any], k: int) -> dict[str, Any]:
    name = _copy(device["id"], k, "X")
    source = dict(device["source"])
    if "endpoint" in source:
        source["endpoint"] = _copy(source["endpoint"], k)
    elif k and device["id"] in source.get("topic", ""):
        source["topic"] = source["topic"].replace(device["id"], name)
    elif k:
        source["topic"] = f"{source['topic']}/x{k}"
    return {**device, "id": name, "zone": _copy(device["zone"], k), "source": source}


def variant(site_file: Path, name: str, *, outbox: Path, database: str | None = None) -> Path:
    """A copy of a written site file beside it, with another outbox (and InfluxDB database):
    the same simulators and ports, a fresh gateway state for one run."""
    document = yaml.safe_load(site_file.read_text())
    document["outbox"] = {**document.get("outbox", {}), "path": str(outbox)}
    if database is not None:
        document["influxdb"] = {**document["influxdb"], "database": database}
    path = site_file.with_name(f"{name}.yaml")
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=200))
    return path
