"""Site configuration: YAML in, typed and checked objects out, or errors naming file and line."""

from gateway.config.errors import ConfigError, ConfigIssue
from gateway.config.loader import load_site
from gateway.config.models import (
    Building,
    Device,
    DeviceKind,
    InfluxConnection,
    InfluxV1Connection,
    InfluxV2Connection,
    ModbusEndpoint,
    ModbusSource,
    MqttConnection,
    MqttSource,
    RiskLevel,
    SiteConfig,
    Zone,
)
from gateway.config.site import SUPERVISION_CAP, MqttTopic, Site
from gateway.config.values import SecretRef

__all__ = [
    "SUPERVISION_CAP",
    "Building",
    "ConfigError",
    "ConfigIssue",
    "Device",
    "DeviceKind",
    "InfluxConnection",
    "InfluxV1Connection",
    "InfluxV2Connection",
    "ModbusEndpoint",
    "ModbusSource",
    "MqttConnection",
    "MqttSource",
    "MqttTopic",
    "RiskLevel",
    "SecretRef",
    "Site",
    "SiteConfig",
    "Zone",
    "load_site",
]
