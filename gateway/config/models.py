"""The site config as typed, frozen objects: what the YAML file may say, and nothing else."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from gateway.config.values import Duration, Secret
from rules import RuleSet

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceKind(StrEnum):
    SMOKE_DETECTOR = "smoke_detector"
    HYDRANT_PRESSURE = "hydrant_pressure"
    CAMERA = "camera"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class SiteInfo(_Model):
    id: Id
    name: str


class Building(_Model):
    id: Id
    name: str


class Zone(_Model):
    id: Id
    building: str
    name: str
    risk: RiskLevel = RiskLevel.MEDIUM


class ModbusEndpoint(_Model):
    """One Modbus TCP connection (a panel's gateway or an I/O module); many devices share it."""

    id: Id
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    timeout: Duration = 1.0


class ModbusSource(_Model):
    """Where a device's registers are: endpoint, unit id, and base address of its block."""

    endpoint: str
    unit: Annotated[int, Field(ge=0, le=247)] = 1
    address: Annotated[int, Field(ge=0, le=65535)] = 0


class MqttSource(_Model):
    """The topic a device (or its NVR) publishes its JSON status on."""

    topic: Annotated[str, Field(min_length=1, pattern=r"^[^#+]+$")]


def _source_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return "mqtt-source" if "topic" in value else "modbus-source"
    return "mqtt-source" if isinstance(value, MqttSource) else "modbus-source"


Source = Annotated[
    Annotated[ModbusSource, Tag("modbus-source")] | Annotated[MqttSource, Tag("mqtt-source")],
    Discriminator(_source_tag),
]
SOURCE_TAGS = frozenset({"modbus-source", "mqtt-source"})


class Device(_Model):
    id: Id
    kind: DeviceKind
    zone: str
    profile: str
    source: Source
    name: str | None = None
    poll_interval: Duration | None = None
    supervision: Duration | None = Field(
        default=None, description="no valid reading for this long is a communication loss"
    )


class ModbusSettings(_Model):
    endpoints: tuple[ModbusEndpoint, ...] = ()


class MqttConnection(_Model):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    username: str | None = None
    password: Secret | None = None
    client_id: str | None = None
    topic_prefix: str = "firegw"
    keepalive: Annotated[int, Field(ge=5, le=3600)] = 30


class InfluxConnection(_Model):
    api: Literal["v1"] = "v1"
    url: Annotated[str, Field(pattern=r"^https?://")]
    database: str
    retention_policy: str | None = None
    username: str | None = None
    password: Secret | None = None
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000


class OutboxSettings(_Model):
    path: Path = Path("var/outbox.sqlite")


class Defaults(_Model):
    poll_interval: Duration = 1.0
    supervision_polls: Annotated[int, Field(ge=2, le=100)] = 3


class SiteConfig(_Model):
    """The whole site file. Cross-references are checked by `gateway.config.load_site`."""

    site: SiteInfo
    buildings: Annotated[tuple[Building, ...], Field(min_length=1)]
    zones: Annotated[tuple[Zone, ...], Field(min_length=1)]
    profiles: Annotated[tuple[Path, ...], Field(min_length=1)]
    modbus: ModbusSettings = ModbusSettings()
    mqtt: MqttConnection | None = None
    influxdb: InfluxConnection | None = None
    outbox: OutboxSettings = OutboxSettings()
    defaults: Defaults = Defaults()
    rules: RuleSet = Field(default_factory=RuleSet, description="DESIGN section 4 by default")
    devices: tuple[Device, ...] = ()
