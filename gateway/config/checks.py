"""Cross-reference checks that no single field can make: ids, zones, profiles, addresses."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from drivers.modbus import Function, ModbusDevice, ModbusProfile, SerialLine, longest_exchange
from drivers.mqtt import MqttProfile, fill_template, overlap
from gateway.config.models import ModbusSource, MqttSource, SiteConfig
from gateway.config.operators import role_problems
from gateway.config.site import BROKER_LINK, MqttTopic, mqtt_topic_of
from gateway.config.uplink import uplink_problems
from gateway.config.yamlsource import Path_

Problem = tuple[Path_, str]
DISABLEMENT = "out_of_service"
"""The rule of the alarm a disablement raises (rules/disablement.py)."""
Range = tuple[int, int]
Profiles = dict[str, ModbusProfile | MqttProfile]


def check_site(config: SiteConfig, profiles: Profiles) -> list[Problem]:
    """Every cross-reference problem in the site, as (field path, message)."""
    return [
        *_duplicates("buildings", config.buildings),
        *_duplicates("zones", config.zones),
        *_duplicates("devices", config.devices),
        *_reserved_ids(config),
        *_duplicates(("modbus", "endpoints"), config.modbus.endpoints),
        *_zone_buildings(config),
        *_device_references(config, profiles),
        *_modbus_overlaps(config, profiles),
        *_serial_timeouts(config, profiles),
        *_mqtt_topics(config),
        *_rule_overrides(config),
        *_sink_names(config),
        *role_problems(config.operators, config.roles),
        *uplink_problems(config, {rule.name for rule in config.rules.rules} | {DISABLEMENT}),
    ]


def _duplicates(where: str | Path_, items: Sequence[Any]) -> Iterator[Problem]:
    base = (where,) if isinstance(where, str) else where
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.id in first:
            yield (*base, index, "id"), f"duplicate id {item.id!r} (also at index {first[item.id]})"
        first.setdefault(item.id, index)


def _reserved_ids(config: SiteConfig) -> Iterator[Problem]:
    """The gateway raises its own trouble alarms under `site.gateway_id`, and a connection's
    under its id (a Modbus endpoint's, or `mqtt-broker`): no device may take those."""
    links = {endpoint.id for endpoint in config.modbus.endpoints} | {BROKER_LINK}
    for index, device in enumerate(config.devices):
        if device.id == config.site.gateway_id:
            yield (
                ("devices", index, "id"),
                (f"{device.id!r} is the gateway's own id (for its trouble alarms); choose another"),
            )
        elif device.id in links:
            yield (
                ("devices", index, "id"),
                f"{device.id!r} names a connection (its link_lost alarm); choose another",
            )


def _zone_buildings(config: SiteConfig) -> Iterator[Problem]:
    buildings = {building.id for building in config.buildings}
    for index, zone in enumerate(config.zones):
        if zone.building not in buildings:
            yield ("zones", index, "building"), f"unknown building {zone.building!r}"


def _device_references(config: SiteConfig, profiles: Profiles) -> Iterator[Problem]:
    zones = {zone.id for zone in config.zones}
    endpoints = {endpoint.id for endpoint in config.modbus.endpoints}
    for index, device in enumerate(config.devices):
        here = ("devices", index)
        if device.zone not in zones:
            yield (*here, "zone"), f"unknown zone {device.zone!r}"
        profile = profiles.get(device.profile)
        if profile is None:
            yield (*here, "profile"), f"unknown profile {device.profile!r}"
        elif profile.kind != device.kind:
            yield (
                (*here, "profile"),
                (f"profile {profile.id!r} is for {profile.kind}, not {device.kind}"),
            )
        elif isinstance(device.source, ModbusSource) != isinstance(profile, ModbusProfile):
            yield (*here, "source"), f"does not match the {profile.protocol} profile {profile.id!r}"
        if isinstance(device.source, ModbusSource) and device.source.endpoint not in endpoints:
            endpoint = device.source.endpoint
            yield (*here, "source", "endpoint"), f"unknown Modbus endpoint {endpoint!r}"
        if isinstance(device.source, MqttSource) and config.mqtt is None:
            yield _topic_field(here, device.source), "an MQTT device needs an mqtt: connection"


def _modbus_overlaps(config: SiteConfig, profiles: Profiles) -> Iterator[Problem]:
    """Two devices reading the same register of one unit on one endpoint is a wiring mistake.

    Points are compared one by one, not as spans: a Siemens FC20 element reads register 19000+n
    and 20000+n, and the next element's registers sit between them.
    """
    taken: dict[tuple[str, int, Function], list[tuple[int, int, str]]] = {}
    for index, device in enumerate(config.devices):
        profile = profiles.get(device.profile)
        if not isinstance(device.source, ModbusSource) or not isinstance(profile, ModbusProfile):
            continue
        if profile.kind != device.kind:
            continue  # reported by _device_references; its registers are meaningless
        for function, ranges in _point_ranges(device.source, profile).items():
            blocks = taken.setdefault((device.source.endpoint, device.source.unit, function), [])
            other = _first_overlap(ranges, blocks)
            if other is not None:
                first, last = min(a for a, _ in ranges), max(b for _, b in ranges)
                yield (
                    ("devices", index, "source"),
                    (
                        f"{function} {first}-{last} of unit {device.source.unit} on "
                        f"{device.source.endpoint!r} overlap device {other!r}"
                    ),
                )
            blocks.extend((a, b, device.id) for a, b in ranges)


def _serial_timeouts(config: SiteConfig, profiles: Profiles) -> Iterator[Problem]:
    """An RTU endpoint's timeout must leave time for its slowest read to cross the line:
    a shorter one would time out on every poll, and raising it quietly would hide that."""
    for index, endpoint in enumerate(config.modbus.endpoints):
        if endpoint.serial is None:
            continue
        line = SerialLine(
            endpoint.serial,
            baudrate=endpoint.baudrate,
            parity=endpoint.parity,
            stopbits=endpoint.stopbits,
            bytesize=endpoint.bytesize,
        )
        seconds, slowest = longest_exchange(
            line, _devices_on(config, profiles, endpoint.id), endpoint.merge_gap
        )
        if slowest is not None and endpoint.timeout <= seconds:
            values = f"{slowest.count} {slowest.function.value.replace('_', ' ')}s"
            yield (
                ("modbus", "endpoints", index, "timeout"),
                (
                    f"{endpoint.timeout:g} s is less than the {seconds * 1e3:.0f} ms a read of "
                    f"{values} of unit {slowest.unit} takes on the wire at {endpoint.baudrate} "
                    "baud; every such read would time out"
                ),
            )


def _devices_on(config: SiteConfig, profiles: Profiles, endpoint: str) -> list[ModbusDevice]:
    """The endpoint's devices as the poller sees them (those with a Modbus profile)."""
    return [
        ModbusDevice(
            device.id,
            device.source.unit,
            device.source.address,
            profile,
            device.poll_interval or config.defaults.poll_interval,
        )
        for device in config.devices
        if isinstance(device.source, ModbusSource)
        and device.source.endpoint == endpoint
        and isinstance(profile := profiles.get(device.profile), ModbusProfile)
    ]


def _point_ranges(source: ModbusSource, profile: ModbusProfile) -> dict[Function, list[Range]]:
    """The absolute (first, last) registers or bits of each point, per table."""
    ranges: dict[Function, list[Range]] = {}
    for point in profile.points:
        first = source.address + point.address
        ranges.setdefault(point.function, []).append((first, first + point.count - 1))
    return ranges


def _first_overlap(ranges: list[Range], blocks: list[tuple[int, int, str]]) -> str | None:
    for first, last in ranges:
        for other_first, other_last, other in blocks:
            if first <= other_last and other_first <= last:
                return other
    return None


def _mqtt_topics(config: SiteConfig) -> Iterator[Problem]:
    """Every MQTT device needs a topic, and no message may be meant for two devices: no two
    devices on one topic, and no template that also matches another device's topic."""
    taken: dict[str, str] = {}  # resolved topic -> device
    patterns: dict[str, tuple[str, str]] = {}  # pattern -> (its subscription, first device)
    for index, device in enumerate(config.devices):
        if not isinstance(device.source, MqttSource):
            continue
        topic = mqtt_topic_of(config, device)
        if topic is None and config.mqtt is None:
            continue  # reported by _device_references
        problem = _topic_problem(topic, device.source, taken, patterns)
        if problem is not None:
            yield _topic_field(("devices", index), device.source), problem
        if topic is not None:  # an overlap is reported once, for the first device of a pattern
            taken.setdefault(topic.topic, device.id)
            patterns.setdefault(topic.pattern, (fill_template(topic.pattern, "+"), device.id))


def _topic_field(device: Path_, source: MqttSource) -> Path_:
    """Where a device's topic problem is reported: its `topic:`, else its `key:`, else `source`."""
    if source.topic is not None:
        return (*device, "source", "topic")
    return (*device, "source", "key") if source.key is not None else (*device, "source")


def _topic_problem(
    topic: MqttTopic | None,
    source: MqttSource,
    taken: dict[str, str],
    patterns: dict[str, tuple[str, str]],
) -> str | None:
    if topic is None:
        return "an MQTT device needs a topic: give it one, or give mqtt: a topic_template"
    if source.key is not None and not topic.is_template:
        return f"a key applies only to a topic template with {{device}}, not {topic.pattern!r}"
    if topic.topic in taken:
        return f"topic {topic.topic!r} is already used by device {taken[topic.topic]!r}"
    if topic.pattern in patterns:
        return None
    subscription = fill_template(topic.pattern, "+")
    for other, (other_subscription, device) in patterns.items():
        if overlap(subscription, other_subscription):
            return (
                f"topic {topic.pattern!r} overlaps {other!r} of device {device!r}: a "
                "message could be meant for either"
            )
    return None


def _rule_overrides(config: SiteConfig) -> Iterator[Problem]:
    zones = {zone.id for zone in config.zones}
    devices = {device.id for device in config.devices}
    for zone in config.rules.zones:
        if zone not in zones:
            yield ("rules", "zones", zone), f"unknown zone {zone!r}"
    for device in config.rules.devices:
        if device not in devices:
            yield ("rules", "devices", device), f"unknown device {device!r}"


def _sink_names(config: SiteConfig) -> Iterator[Problem]:
    """Each InfluxDB connection keeps its outbox position under its name: names must differ."""
    if not isinstance(config.influxdb, tuple):
        return
    first: dict[str, int] = {}
    for index, connection in enumerate(config.influxdb):
        if connection.name in first:
            yield (
                ("influxdb", index, "name"),
                (
                    f"duplicate name {connection.name!r} (also at index {first[connection.name]}):"
                    " give each connection its own name"
                ),
            )
        first.setdefault(connection.name, index)
