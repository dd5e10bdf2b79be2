"""The site config as typed, frozen objects: what the YAML file may say, and nothing else."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from drivers.modbus import MERGE_GAP, Parity
from drivers.mqtt import PLACEHOLDER, key_problem, topic_problem
from gateway.config.operators import DEFAULT_ROLES, Operator, Role
from gateway.config.tls import TlsSettings
from gateway.config.uplink import UplinkSettings
from gateway.config.urls import url_problem
from gateway.config.values import Duration, Secret
from rules import AlarmClass, DeviceKind, RuleSet

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def model_post_init(self, context: Any, /) -> None:
        """Share the set of fields given with every object given the same ones: pydantic keeps
        a set per object, 216 bytes or, from five fields, 728, and a site of a thousand
        devices makes tens of thousands of these objects (1.8 MB at 10x the reference site).
        Frozen objects never change theirs; `model_copy` copies it before adding to it."""
        given = self.__pydantic_fields_set__
        shared = _FIELDS_GIVEN.setdefault(frozenset(given), given)
        if shared is not given:
            object.__setattr__(self, "__pydantic_fields_set__", shared)


_FIELDS_GIVEN: dict[frozenset[str], set[str]] = {}


SITE_KINDS = (DeviceKind.SMOKE_DETECTOR, DeviceKind.HYDRANT_PRESSURE, DeviceKind.CAMERA)
"""The kinds a site file may give a device (`gateway` is the gateway's own, never configured)."""


def _site_kind(value: object) -> object:
    if value not in SITE_KINDS:
        kinds = ", ".join(kind.value for kind in SITE_KINDS)
        raise ValueError(f"expected one of {kinds}, got {value!r}")
    return value


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class SiteInfo(_Model):
    id: Id
    name: str

    @property
    def gateway_id(self) -> str:
        """The gateway's own device id (its trouble alarms): ``firegw-<site id>``."""
        return f"firegw-{self.id}"


class Building(_Model):
    id: Id
    name: str
    name_zh: str | None = Field(default=None, description="the name in Chinese, for the console")


class Zone(_Model):
    id: Id
    building: str
    name: str
    name_zh: str | None = Field(default=None, description="the name in Chinese, for the console")
    risk: RiskLevel = RiskLevel.MEDIUM


class ModbusEndpoint(_Model):
    """One Modbus connection that many devices share: Modbus TCP to `host` (a panel's gateway,
    an I/O module) or Modbus RTU on the RS-485 line at `serial` (a device path)."""

    id: Id
    host: str | None = None
    serial: str | None = Field(default=None, validate_default=True)
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    baudrate: Annotated[int, Field(gt=0)] = 9600
    parity: Parity = Field(default=Parity.EVEN, description="N, E or O; Modbus RTU's default is E")
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout: Duration = 1.0
    merge_gap: Annotated[int, Field(ge=0, le=125)] = MERGE_GAP

    @field_validator("serial")
    @classmethod
    def _one_transport(cls, serial: str | None, info: ValidationInfo) -> str | None:
        host = info.data.get("host")
        if host is None and serial is None:
            raise ValueError("an endpoint needs host (Modbus TCP) or serial (Modbus RTU)")
        if host is not None and serial is not None:
            raise ValueError(f"give host or serial, not both (host {host!r}, serial {serial!r})")
        return serial

    @field_validator("port")
    @classmethod
    def _tcp_only(cls, port: int, info: ValidationInfo) -> int:
        if info.data.get("serial") is not None:
            raise ValueError("a serial (Modbus RTU) endpoint has no port")
        return port

    @field_validator("baudrate", "parity", "stopbits", "bytesize")
    @classmethod
    def _serial_only(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("host") is not None:
            raise ValueError(f"{info.field_name} is for serial (Modbus RTU) endpoints, not TCP")
        return value


class ModbusSource(_Model):
    """Where a device's registers are: endpoint, unit id, and base address of its block."""

    endpoint: str
    unit: Annotated[int, Field(ge=0, le=247)] = 1
    address: Annotated[int, Field(ge=0, le=65535)] = 0


class MqttSource(_Model):
    """Where a device (or its NVR) publishes its JSON status.

    `topic` is an exact topic, or a template whose `{device}` level carries the device's key
    (`st-lukes/nvr/{device}/health`); without it the site's `mqtt.topic_template` applies.
    `key` is what that level says for this device when it is not the device's id (`ch07`).
    Written `source: mqtt`, a device takes the site's template with its id as the key.
    """

    topic: str | None = None
    key: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value != "mqtt":
                raise ValueError(
                    f"write `mqtt` (the site's topic_template) or a mapping such as "
                    f"{{topic: ...}}, not {value!r}"
                )
            return {}
        return value

    @field_validator("topic")
    @classmethod
    def _valid_topic(cls, topic: str | None) -> str | None:
        return _checked(topic, topic_problem)

    @field_validator("key")
    @classmethod
    def _valid_key(cls, key: str | None) -> str | None:
        return _checked(key, key_problem)


def _checked(text: str | None, problem_of: Callable[[str], str | None]) -> str | None:
    problem = None if text is None else problem_of(text)
    if problem is not None:
        raise ValueError(f"{problem} (got {text!r})")
    return text


def _source_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return "mqtt-source" if "topic" in value or "key" in value else "modbus-source"
    return "mqtt-source" if isinstance(value, MqttSource | str) else "modbus-source"


Source = Annotated[
    Annotated[ModbusSource, Tag("modbus-source")] | Annotated[MqttSource, Tag("mqtt-source")],
    Discriminator(_source_tag),
]
SOURCE_TAGS = frozenset({"modbus-source", "mqtt-source"})


class Device(_Model):
    id: Id
    kind: Annotated[DeviceKind, BeforeValidator(_site_kind)]
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
    tls: TlsSettings | None = None
    topic_template: str | None = Field(
        default=None,
        description="topic of MQTT devices without their own: a template with a "
        "{device} level, e.g. st-lukes/nvr/{device}/health",
    )

    @field_validator("topic_prefix")
    @classmethod
    def _valid_prefix(cls, prefix: str) -> str:
        problem = _prefix_problem(prefix)
        if problem is not None:
            raise ValueError(f"{problem} (got {prefix!r})")
        return prefix

    @field_validator("topic_template")
    @classmethod
    def _a_template(cls, template: str | None) -> str | None:
        if template is not None and PLACEHOLDER not in template and not topic_problem(template):
            raise ValueError(f"a topic template needs a {{device}} level (got {template!r})")
        return _checked(template, topic_problem)


def _prefix_problem(prefix: str) -> str | None:
    """What is wrong with `mqtt.topic_prefix`, or None. The alarm feed publishes under
    `<prefix>/<site>/...` and subscribes to its commands there: a wildcard cannot be
    published to, and an empty level (`a//b`, a leading `/`) or a `$` topic (the broker's own)
    is a topic no operator's client would think of subscribing to. A trailing `/` is dropped."""
    levels = prefix.rstrip("/").split("/")
    if levels == [""]:
        return "a topic prefix cannot be empty"
    if "\0" in prefix:
        return "a topic prefix cannot contain a NUL character"
    if "+" in prefix or "#" in prefix:
        return "a topic prefix cannot contain the wildcards + or #: alarms are published under it"
    if "" in levels:
        return "a topic prefix cannot have an empty level (a leading '/' or '//')"
    if prefix.startswith("$"):
        return "a topic prefix cannot start with '$': those topics are the broker's own"
    return None


def _database_url(credentials: str) -> Callable[[str], str]:
    """A validator for a database URL; `credentials` says where they go instead."""

    def valid(url: str) -> str:
        problem = url_problem(url, credentials)
        if problem is not None:
            raise ValueError(problem)
        return url

    return valid


_V1_CREDENTIALS = "give username: and password: {file: PATH} (or {env: NAME}) instead"
_V2_CREDENTIALS = "give token: {file: PATH} (or {env: NAME}) instead"


class InfluxV1Connection(_Model):
    """An InfluxDB 1.x database: ``/write`` with database, retention policy, user, password."""

    api: Literal["v1"] = "v1"
    name: Id = Field(default="influxdb", description="the sink's name; its outbox position")
    url: Annotated[str, AfterValidator(_database_url(_V1_CREDENTIALS))]
    database: str
    retention_policy: str | None = None
    username: str | None = None
    password: Secret | None = None
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000
    tls: TlsSettings | None = Field(
        default=None, description="for an https URL: the CA to trust, a client certificate"
    )


class InfluxV2Connection(_Model):
    """An InfluxDB 2.x bucket, or a server with its write API: ``/api/v2/write``."""

    api: Literal["v2"]
    name: Id = Field(default="influxdb", description="the sink's name; its outbox position")
    url: Annotated[str, AfterValidator(_database_url(_V2_CREDENTIALS))]
    org: Annotated[str, Field(min_length=1)]
    bucket: Annotated[str, Field(min_length=1)]
    token: Secret
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000
    tls: TlsSettings | None = Field(
        default=None, description="for an https URL: the CA to trust, a client certificate"
    )


def _influx_api(value: Any) -> str | None:
    """The connection model for an `api:` (v1 when absent); None for an unknown one."""
    api = value.get("api", "v1") if isinstance(value, dict) else getattr(value, "api", None)
    return {"v1": "influx-v1", "v2": "influx-v2"}.get(api) if isinstance(api, str) else None


def _one_or_many(value: Any) -> str:
    return "connections" if isinstance(value, list | tuple) else "one-connection"


InfluxConnection = Annotated[
    Annotated[InfluxV1Connection, Tag("influx-v1")]
    | Annotated[InfluxV2Connection, Tag("influx-v2")],
    Discriminator(
        _influx_api, custom_error_type="influx_api", custom_error_message="api must be v1 or v2"
    ),
]
InfluxConnections = Annotated[
    Annotated[InfluxConnection, Tag("one-connection")]
    | Annotated[tuple[InfluxConnection, ...], Tag("connections")],
    Discriminator(_one_or_many),
]
"""`influxdb:` is one connection or a list of them (for example a local v1 and a central v2)."""
INFLUX_TAGS = frozenset({"influx-v1", "influx-v2", "one-connection", "connections"})


class OutboxSettings(_Model):
    """Where the outbox is, its size cap, and when a filling outbox becomes a trouble condition.

    The default cap, 50 million lines, holds a day of the reference site's readings (about
    500 a second) with room to spare; at the cap the oldest readings are dropped.
    """

    path: Path = Path("var/outbox.sqlite")
    max_rows: Annotated[int, Field(ge=1000)] = 50_000_000
    alarm_fill: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.5,
        description="share of max_rows waiting that raises the trouble alarm 'outbox nearly full'",
    )
    alarm_age: Duration = Field(
        default=900.0,
        description="age of the oldest line a database still waits for that "
        "raises the trouble alarm 'history not reaching the database'",
    )

    @field_validator("path")
    @classmethod
    def _a_file_name(cls, path: Path) -> Path:
        """The alarm store and the rejected payloads are named after the outbox's file."""
        if path.name in ("", ".", ".."):
            raise ValueError(
                f"give the path of a file, such as /var/lib/firegw/outbox.sqlite, not a folder "
                f"(got {str(path)!r})"
            )
        return path


class HazardClass(StrEnum):
    """The security department's own classes of hazard (`firegw report`), or none: not a
    hazard of the site (the gateway's own troubles, a disablement)."""

    FIRE = "fire"
    FACILITY = "facility"
    SECURITY = "security"
    NONE = "none"


def _known_timezone(name: str | None) -> str | None:
    if name is not None:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r}; expected one such as Asia/Shanghai"
            ) from None
    return name


def _known_rules_or_classes(classes: dict[str, HazardClass]) -> dict[str, HazardClass]:
    known = {str(c) for c in AlarmClass} | {rule.name for rule in RuleSet().rules}
    known.add("out_of_service")  # a disablement: the alarm a device or zone out of service shows
    for key in classes:
        if key not in known:
            raise ValueError(
                f"{key!r} is neither an alarm class ({', '.join(AlarmClass)}) nor a rule of "
                "the rule table (rules/README.md)"
            )
    return classes


class ReportHistory(_Model):
    """Where `firegw report` reads the history in InfluxDB (docs/report.md, "Storage")."""

    connection: str | None = Field(
        default=None, description="the name of the influxdb: connection; default the first"
    )
    database: str | None = Field(
        default=None,
        description="the database to query: v1 the connection's; v2 the bucket's DBRP mapping",
    )
    events: str | None = Field(
        default=None, description="retention policy of alarm_event; default the connection's"
    )
    readings: str | None = Field(
        default=None, description="retention policy of the raw readings; default the connection's"
    )
    downsampled: str | None = Field(
        default=None,
        description="retention policy of the per-minute readings (<kind>_1m); none: the report "
        "works them out from the raw readings",
    )


class ReportSettings(_Model):
    """`firegw report`: the department's classes, its time zone, where the history is."""

    timezone: Annotated[str | None, AfterValidator(_known_timezone)] = Field(
        default=None, description="dates, days and months of the report; default the machine's"
    )
    classes: Annotated[dict[str, HazardClass], AfterValidator(_known_rules_or_classes)] = Field(
        default_factory=dict,
        description="the department's class of an alarm class or a rule (a rule wins); "
        "added to the defaults of docs/report.md",
    )
    history: ReportHistory = ReportHistory()


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
    influxdb: InfluxConnections | None = None
    outbox: OutboxSettings = OutboxSettings()
    uplink: UplinkSettings | None = Field(
        default=None, description="the alarm receiving centre (SIA DC-09): docs/uplink.md"
    )
    defaults: Defaults = Defaults()
    rules: RuleSet = Field(
        default_factory=RuleSet,
        description="the default rule table (rules/README.md) unless overridden",
    )
    roles: dict[str, Role] = Field(default_factory=lambda: dict(DEFAULT_ROLES))
    operators: tuple[Operator, ...] = ()
    devices: tuple[Device, ...] = ()
    report: ReportSettings = ReportSettings()
