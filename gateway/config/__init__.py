"""Site configuration: YAML in, typed and checked objects out, or errors naming file and line."""

from gateway.config.errors import ConfigError
from gateway.config.loader import load_site
from gateway.config.models import (
    Device,
    HazardClass,
    InfluxV1Connection,
    InfluxV2Connection,
    ModbusEndpoint,
    ModbusSource,
    MqttConnection,
    MqttSource,
    OutboxSettings,
)
from gateway.config.operators import Operator, Role
from gateway.config.site import BROKER_LINK, Site
from gateway.config.uplink import (
    GATEWAY_POINTS,
    Numbers,
    RuleCodes,
    Transition,
    UplinkFormat,
    UplinkProtocol,
    UplinkSettings,
    key_bytes,
)
from gateway.config.urls import redact_url, redact_urls

__all__ = [
    "BROKER_LINK",
    "GATEWAY_POINTS",
    "ConfigError",
    "Device",
    "HazardClass",
    "InfluxV1Connection",
    "InfluxV2Connection",
    "ModbusEndpoint",
    "ModbusSource",
    "MqttConnection",
    "MqttSource",
    "Numbers",
    "Operator",
    "OutboxSettings",
    "Role",
    "RuleCodes",
    "Site",
    "Transition",
    "UplinkFormat",
    "UplinkProtocol",
    "UplinkSettings",
    "key_bytes",
    "load_site",
    "redact_url",
    "redact_urls",
]
