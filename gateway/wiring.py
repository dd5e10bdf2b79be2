"""Turn the site config into the drivers' own specs: drivers never see the site config."""

from __future__ import annotations

from collections import defaultdict

from drivers.modbus import ModbusDevice, ModbusEndpointSpec
from drivers.mqtt import BrokerSpec, MqttDevice
from gateway.config import ModbusSource, MqttSource, Site


def modbus_endpoints(site: Site) -> list[ModbusEndpointSpec]:
    """One spec per endpoint that has devices, each listing its devices."""
    devices: dict[str, list[ModbusDevice]] = defaultdict(list)
    for device in site.config.devices:
        if isinstance(device.source, ModbusSource):
            devices[device.source.endpoint].append(ModbusDevice(
                id=device.id, unit=device.source.unit, address=device.source.address,
                profile=site.modbus_profile(device), poll_interval=site.poll_interval(device)))
    return [
        ModbusEndpointSpec(id=endpoint.id, host=endpoint.host, port=endpoint.port,
                           timeout=endpoint.timeout, devices=tuple(devices[endpoint.id]))
        for endpoint in site.config.modbus.endpoints if devices[endpoint.id]
    ]


def mqtt_devices(site: Site) -> list[MqttDevice]:
    return [
        MqttDevice(id=device.id, topic=device.source.topic, profile=site.mqtt_profile(device))
        for device in site.config.devices if isinstance(device.source, MqttSource)
    ]


def broker(site: Site, client_id: str) -> BrokerSpec:
    """The site's MQTT broker; the password is read from its reference now, at start-up."""
    mqtt = site.config.mqtt
    if mqtt is None:
        raise LookupError("the site has no mqtt: connection")
    return BrokerSpec(
        host=mqtt.host, port=mqtt.port, username=mqtt.username,
        password=mqtt.password.reveal() if mqtt.password else None,
        client_id=mqtt.client_id or client_id, keepalive=mqtt.keepalive)
