"""A site as it is, but somewhere else: on loopback ports for the demo, on another broker for
the commands that read the feed (`--broker`)."""

from __future__ import annotations

from collections.abc import Callable

from gateway.config import Site


def on_broker(site: Site, host: str, port: int, *, anonymous: bool = False) -> Site:
    """The site with its `mqtt:` on `host`:`port` (and no login, if `anonymous`)."""
    mqtt = site.config.mqtt
    if mqtt is None:
        raise ValueError(f"{site.path}: --broker needs an mqtt: section in the site file")
    login = {"username": None, "password": None} if anonymous else {}
    moved = mqtt.model_copy(update={"host": host, "port": port, **login})
    return Site(
        site.path, site.config.model_copy(update={"mqtt": moved}), site.profiles, site.warnings
    )


def on_loopback(site: Site, *, mqtt_port: int, free_port: Callable[[], int]) -> Site:
    """The same site on free loopback ports, so the demo never collides with a running
    service: every TCP endpoint, the broker (anonymous), and no databases."""
    config = site.config
    endpoints = tuple(
        endpoint.model_copy(update={"host": "127.0.0.1", "port": free_port()})
        if endpoint.serial is None
        else endpoint  # a serial line stays where it is
        for endpoint in config.modbus.endpoints
    )
    relocated = config.model_copy(
        update={
            "modbus": config.modbus.model_copy(update={"endpoints": endpoints}),
            "influxdb": None,
        }
    )
    moved = Site(site.path, relocated, site.profiles, site.warnings)
    return on_broker(moved, "127.0.0.1", mqtt_port, anonymous=True) if config.mqtt else moved
