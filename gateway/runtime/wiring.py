"""Turn the site config into the drivers' own specs: drivers never see the site config."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from drivers.modbus import ModbusDevice, ModbusEndpointSpec, SerialLine
from drivers.mqtt import MqttDevice
from gateway.config import (
    InfluxV1Connection,
    InfluxV2Connection,
    ModbusEndpoint,
    ModbusSource,
    MqttSource,
    Site,
)
from gateway.sinks import Sink


def modbus_endpoints(site: Site) -> list[ModbusEndpointSpec]:
    """One spec per endpoint that has devices, each listing its devices."""
    devices: dict[str, list[ModbusDevice]] = defaultdict(list)
    for device in site.config.devices:
        if isinstance(device.source, ModbusSource):
            devices[device.source.endpoint].append(
                ModbusDevice(
                    id=device.id,
                    unit=device.source.unit,
                    address=device.source.address,
                    profile=site.modbus_profile(device),
                    poll_interval=site.poll_interval(device),
                )
            )
    return [
        _endpoint(endpoint, devices[endpoint.id])
        for endpoint in site.config.modbus.endpoints
        if devices[endpoint.id]
    ]


def _endpoint(endpoint: ModbusEndpoint, devices: list[ModbusDevice]) -> ModbusEndpointSpec:
    """TCP to host:port, or RTU on the endpoint's serial line."""
    line = (
        None
        if endpoint.serial is None
        else SerialLine(
            endpoint.serial,
            baudrate=endpoint.baudrate,
            parity=endpoint.parity,
            stopbits=endpoint.stopbits,
            bytesize=endpoint.bytesize,
        )
    )
    return ModbusEndpointSpec(
        id=endpoint.id,
        host=endpoint.host,
        port=endpoint.port,
        serial=line,
        timeout=endpoint.timeout,
        merge_gap=endpoint.merge_gap,
        devices=tuple(devices),
    )


def mqtt_devices(site: Site) -> list[MqttDevice]:
    """Each MQTT device on its exact topic, or on its template with its key."""
    devices = []
    for device in site.config.devices:
        if isinstance(device.source, MqttSource):
            topic = site.mqtt_topic(device)
            devices.append(
                MqttDevice(
                    id=device.id,
                    topic=topic.pattern,
                    key=topic.key,
                    profile=site.mqtt_profile(device),
                )
            )
    return devices


def make_sink(connection: InfluxV1Connection | InfluxV2Connection, folder: Path) -> Sink:
    """The sink for one `influxdb:` connection; secrets and TLS files are read now, at
    start-up (paths relative to `folder`, the site file's); raises `LookupError` naming the
    setting that cannot be used."""
    try:
        tls = connection.tls.context(folder) if connection.tls is not None else None
    except LookupError as error:
        raise LookupError(f"influxdb {connection.name}: tls.{error}") from None
    if isinstance(connection, InfluxV2Connection):
        from gateway.sinks import InfluxV2Sink  # heavy: only when configured

        return InfluxV2Sink(
            connection.url,
            connection.org,
            connection.bucket,
            connection.token.reveal(),
            name=connection.name,
            batch_size=connection.batch_size,
            tls=tls,
        )
    from gateway.sinks import InfluxV1Sink  # aiohttp: only when configured

    password = connection.password.reveal() if connection.password else None
    return InfluxV1Sink(
        connection.url,
        connection.database,
        name=connection.name,
        retention_policy=connection.retention_policy,
        username=connection.username,
        password=password,
        batch_size=connection.batch_size,
        tls=tls,
    )
