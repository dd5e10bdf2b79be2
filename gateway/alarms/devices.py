"""What the rules engine needs to know about the site's devices, taken from the site config."""

from __future__ import annotations

from gateway.config import Site
from rules import DeviceInfo, DeviceKind


def gateway_device(site: Site) -> DeviceInfo:
    """The gateway itself as the rules see it (`SiteInfo.gateway_id`, which no configured
    device may take): kind `gateway`, in no zone or building."""
    return DeviceInfo(id=site.config.site.gateway_id, kind=DeviceKind.GATEWAY, zone="", building="")


def device_infos(site: Site) -> list[DeviceInfo]:
    """One `DeviceInfo` per configured device: kind, zone, building, supervision window and
    the connection it depends on; then each of those connections (kind `link`: the gateway
    reports whether each is up) and the gateway itself (`gateway_device`).

    The supervision window is the site's (`Site.supervision`: a number of poll intervals,
    capped at 100 s after GB 50166), so the rules and the config never disagree about it.
    """
    devices = [
        DeviceInfo(
            id=device.id,
            kind=device.kind,
            zone=device.zone,
            building=site.zones[device.zone].building,
            supervision=site.supervision(device),
            link=site.link_of(device),
        )
        for device in site.config.devices
    ]
    links = [DeviceInfo(id=link, kind=DeviceKind.LINK, zone="", building="") for link in site.links]
    return [*devices, *links, gateway_device(site)]
