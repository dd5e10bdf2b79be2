"""A loaded, checked site: the config plus its profiles, with the lookups the gateway needs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field

from drivers.modbus import ModbusProfile
from drivers.mqtt import PLACEHOLDER, BrokerSpec, MqttProfile, fill_template
from gateway.config.errors import ConfigIssue
from gateway.config.models import (
    Building,
    Device,
    InfluxV1Connection,
    InfluxV2Connection,
    ModbusSource,
    MqttSource,
    SiteConfig,
    Zone,
)
from rules import DeviceKind

Profile = Annotated[ModbusProfile | MqttProfile, Field(discriminator="protocol")]

BROKER_LINK = "mqtt-broker"
"""The link id of the broker the site's MQTT devices publish to."""

SUPERVISION_CAP = 100.0
"""Seconds: GB 50166 wants a fault shown within 100 s, so no supervision window is longer."""


@dataclass(frozen=True)
class MqttTopic:
    """Where an MQTT device's documents arrive: an exact topic, or a template and the key its
    `{device}` level carries for this device."""

    pattern: str
    key: str | None

    @property
    def is_template(self) -> bool:
        return PLACEHOLDER in self.pattern

    @property
    def topic(self) -> str:
        """The device's own topic: the template filled in with the key (a filter if the
        template has other wildcard levels)."""
        return fill_template(self.pattern, self.key) if self.key is not None else self.pattern


def mqtt_topic_of(config: SiteConfig, device: Device) -> MqttTopic | None:
    """The one place a device's topic is worked out, for the gateway and the simulators alike.

    The pattern is the device's own `topic:`, else the site's `mqtt.topic_template`; on a
    template the key is the device's `key:`, else its id. None when neither gives a topic.
    """
    source = device.source
    if not isinstance(source, MqttSource):
        raise TypeError(f"device {device.id} is not an MQTT device")
    pattern = source.topic or (config.mqtt.topic_template if config.mqtt else None)
    if pattern is None:
        return None
    key = source.key or device.id if PLACEHOLDER in pattern else source.key
    return MqttTopic(pattern, key)


@dataclass(frozen=True)
class Site:
    """Everything the gateway and the simulators need to know about one site.

    `warnings` are what the checks found doubtful but not wrong (a transmitter range that
    looks like kPa), in file order: `firegw check` prints them, the gateway logs them.
    """

    path: Path
    config: SiteConfig
    profiles: dict[str, ModbusProfile | MqttProfile]
    warnings: tuple[ConfigIssue, ...] = ()

    @cached_property
    def zones(self) -> dict[str, Zone]:
        return {zone.id: zone for zone in self.config.zones}

    @cached_property
    def buildings(self) -> dict[str, Building]:
        return {building.id: building for building in self.config.buildings}

    @cached_property
    def devices(self) -> dict[str, Device]:
        return {device.id: device for device in self.config.devices}

    def building_of(self, device: Device) -> Building:
        return self.buildings[self.zones[device.zone].building]

    def tags(self, device: Device) -> dict[str, str]:
        """The InfluxDB tags of a device's readings."""
        zone = self.zones[device.zone]
        return {
            "site": self.config.site.id,
            "building": zone.building,
            "zone": zone.id,
            "device": device.id,
        }

    def poll_interval(self, device: Device) -> float:
        return device.poll_interval or self.config.defaults.poll_interval

    def supervision(self, device: Device) -> float:
        """How long a device may go without a valid reading before it counts as lost."""
        if device.supervision is not None:
            return device.supervision
        polls = self.config.defaults.supervision_polls * self.poll_interval(device)
        return min(polls, SUPERVISION_CAP)

    def link_of(self, device: Device) -> str:
        """The connection `device` depends on: its Modbus endpoint, or the MQTT broker
        (`BROKER_LINK`). While that connection is lost, its loss is the device's cause."""
        if isinstance(device.source, ModbusSource):
            return device.source.endpoint
        return BROKER_LINK

    @cached_property
    def links(self) -> dict[str, list[Device]]:
        """Every connection that devices depend on, with those devices, in site order."""
        found: dict[str, list[Device]] = {}
        for device in self.config.devices:
            found.setdefault(self.link_of(device), []).append(device)
        return found

    def modbus_profile(self, device: Device) -> ModbusProfile:
        profile = self.profiles[device.profile]
        if not isinstance(profile, ModbusProfile):
            raise TypeError(f"device {device.id} does not use a Modbus profile")
        return profile

    def mqtt_profile(self, device: Device) -> MqttProfile:
        profile = self.profiles[device.profile]
        if not isinstance(profile, MqttProfile):
            raise TypeError(f"device {device.id} does not use an MQTT profile")
        return profile

    def mqtt_topic(self, device: Device) -> MqttTopic:
        """Where an MQTT device's documents arrive (see `mqtt_topic_of`)."""
        topic = mqtt_topic_of(self.config, device)
        if topic is None:
            raise LookupError(f"device {device.id} has no MQTT topic")
        return topic

    def broker(self, client_id: str) -> BrokerSpec:
        """The site's MQTT broker as a client's spec, named `client_id` unless the site names
        its own; the password and the TLS files are read now, at start-up.

        Raises `LookupError` when the site has no `mqtt:` connection, or naming the setting
        when a secret or a TLS file cannot be used.
        """
        mqtt = self.config.mqtt
        if mqtt is None:
            raise LookupError("the site has no mqtt: connection")
        try:
            tls = mqtt.tls.context(self.path.parent) if mqtt.tls is not None else None
        except LookupError as error:
            raise LookupError(f"mqtt.tls.{error}") from None
        return BrokerSpec(
            host=mqtt.host,
            port=mqtt.port,
            username=mqtt.username,
            password=mqtt.password.reveal() if mqtt.password else None,
            client_id=mqtt.client_id or client_id,
            keepalive=mqtt.keepalive,
            tls=tls,
        )

    def resolve(self, path: Path) -> Path:
        """A path from the config, relative to the config file's folder unless absolute."""
        return path if path.is_absolute() else self.path.parent / path

    @property
    def influx_connections(self) -> tuple[InfluxV1Connection | InfluxV2Connection, ...]:
        """Every `influxdb:` connection, whether the file gives one or a list."""
        influxdb = self.config.influxdb
        if influxdb is None:
            return ()
        return influxdb if isinstance(influxdb, tuple) else (influxdb,)

    @property
    def outbox_path(self) -> Path:
        return self.resolve(self.config.outbox.path)

    @property
    def alarm_store_path(self) -> Path:
        """Alarms and their history, beside the outbox: `<outbox>-alarms.sqlite`."""
        outbox = self.outbox_path
        return outbox.with_name(f"{outbox.stem}-alarms{outbox.suffix}")

    @property
    def rejected_payloads_path(self) -> Path:
        """Rejected MQTT payloads kept for inspection, beside the outbox:
        `<outbox>-rejected.sqlite`."""
        outbox = self.outbox_path
        return outbox.with_name(f"{outbox.stem}-rejected{outbox.suffix}")

    @property
    def uplink_queue_path(self) -> Path:
        """What the uplink still has to send to the alarm receiving centre, beside the outbox:
        `<outbox>-uplink.sqlite`."""
        outbox = self.outbox_path
        return outbox.with_name(f"{outbox.stem}-uplink{outbox.suffix}")

    def count_by_kind(self) -> Counter[DeviceKind]:
        return Counter(device.kind for device in self.config.devices)
