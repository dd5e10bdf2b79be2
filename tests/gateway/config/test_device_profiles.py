"""The shipped device profiles: every one loads in a site, and the vendor profiles play.

Each vendor profile (Notifier MODBUS-GW, Siemens FC20 tables, a 4-20 mA input channel, a
zigbee2mqtt smoke alarm, an NVR camera overview) is played by the simulators over real
sockets (Modbus TCP on free ports, a real Mosquitto) and read back by the gateway's own
drivers, so the profile, the simulator and the driver are checked together.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.reading import Quality, Reading
from drivers.modbus import ModbusDriver, ModbusProfile
from drivers.mqtt import BrokerSpec, MqttDriver, MqttProfile
from drivers.mqtt.decode import decode_payload
from gateway.alarms.devices import device_infos
from gateway.config import ConfigError, Site, load_site
from gateway.runtime.wiring import modbus_endpoints, mqtt_devices
from rules import AlarmClass, AlarmEvent, DeviceKind, EventKind, RuleEngine
from rules.clock import FakeClock
from rules.defaults import default_table
from simulators import SimulatedSite
from tests.servers import MosquittoServer, free_port
from tests.sites import CONFIG, eventually

PROFILES = CONFIG / "profiles"
ALL_PROFILES = sorted(PROFILES.glob("*.yaml"))
Points = dict[str, Reading]


def profile_header(file: Path) -> dict[str, Any]:
    header: dict[str, Any] = yaml.safe_load(file.read_text(encoding="utf-8"))
    return header


def write_site(
    folder: Path,
    profile: str,
    devices: Sequence[str],
    *,
    mqtt_port: int = 1883,
    modbus_port: int = 15020,
) -> Path:
    """A one-zone site using the profile file `profile` for every device: each device entry
    is a `source:` flow mapping (an address or a topic). Modbus devices are on unit 1 of one
    endpoint at 127.0.0.1:`modbus_port`; MQTT devices publish to the broker at `mqtt_port`."""
    header = profile_header(PROFILES / f"{profile}.yaml")
    lines = [
        f"  - {{id: DEV-{n + 1}, kind: {header['kind']}, zone: ward, profile: {header['id']}, "
        f"source: {source}}}"
        for n, source in enumerate(devices)
    ]
    site = folder / f"{profile}.yaml"
    site.write_text(
        "site: {id: test, name: Test ward}\n"
        "buildings: [{id: main, name: Main}]\n"
        "zones: [{id: ward, building: main, name: Ward}]\n"
        f"profiles: [{PROFILES / (profile + '.yaml')}]\n"
        f"modbus:\n  endpoints:\n    - {{id: io, host: 127.0.0.1, port: {modbus_port}, "
        "timeout: 300ms}\n"
        f"mqtt: {{host: 127.0.0.1, port: {mqtt_port}}}\n"
        "defaults: {poll_interval: 100ms, supervision_polls: 3}\n"
        "devices:\n" + "\n".join(lines) + "\n"
    )
    return site


def modbus_at(*addresses: int) -> list[str]:
    return [f"{{endpoint: io, unit: 1, address: {address}}}" for address in addresses]


@pytest.mark.parametrize("file", ALL_PROFILES, ids=[f.stem for f in ALL_PROFILES])
def test_every_profile_loads_in_a_site(tmp_path: Path, file: Path) -> None:
    header = profile_header(file)
    mqtt = header["protocol"] == "mqtt"
    site = load_site(
        write_site(
            tmp_path,
            file.stem,
            ["{topic: test/dev-1}" if mqtt else "{endpoint: io, unit: 1, address: 0}"],
        )
    )
    profile = site.profiles[header["id"]]
    assert isinstance(profile, MqttProfile if mqtt else ModbusProfile)
    assert site.devices["DEV-1"].kind is DeviceKind(header["kind"])


def test_profile_ids_are_unique_and_the_reference_site_loads_them_all() -> None:
    ids = [profile_header(file)["id"] for file in ALL_PROFILES]
    assert len(set(ids)) == len(ids)
    assert sorted(load_site(CONFIG / "hospital.yaml").profiles) == sorted(ids)


@pytest.mark.parametrize("file", ALL_PROFILES, ids=[f.stem for f in ALL_PROFILES])
def test_every_profile_names_the_document_it_follows(file: Path) -> None:
    first = file.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# "), f"{file.name} starts without a header comment"


def rule_points(kind: DeviceKind) -> set[str]:
    """The points the default rules for `kind` read."""
    return {
        rule.point
        for rule in default_table()
        if rule.kind is kind and isinstance(getattr(rule, "point", None), str)
    }


@pytest.mark.parametrize(
    ("profile", "kind"),
    [
        ("iot-smoke-alarm", DeviceKind.SMOKE_DETECTOR),
        ("nvr-camera-health", DeviceKind.CAMERA),
        ("analog-input-4-20ma", DeviceKind.HYDRANT_PRESSURE),
        ("notifier-modbus-gw-point", DeviceKind.SMOKE_DETECTOR),
        ("siemens-fc20-alarm-fault", DeviceKind.SMOKE_DETECTOR),
    ],
)
def test_profiles_that_the_default_rules_serve_have_their_points(
    profile: str, kind: DeviceKind
) -> None:
    header = profile_header(PROFILES / f"{profile}.yaml")
    names = {point["name"] for point in [*header["points"], *header.get("derived", [])]}
    assert rule_points(kind) <= names


class Collector:
    """A reading sink that keeps the latest readings of each device, by point."""

    def __init__(self) -> None:
        self.latest: dict[str, Points] = {}
        self._new = asyncio.Event()

    async def __call__(self, readings: Sequence[Reading]) -> None:
        for reading in readings:
            self.latest.setdefault(reading.device, {})[reading.point] = reading
        self._new.set()

    async def until(
        self, device: str, where: Callable[[Points], bool], within: float = 30.0
    ) -> Points:
        """The device's latest readings, once they satisfy `where`."""
        async with asyncio.timeout(within):
            while not where(points := self.latest.get(device, {})):
                self._new.clear()
                await self._new.wait()
        return points


def showing(**expected: Any) -> Callable[[Points], bool]:
    """Readings that are good and have the expected values."""
    return lambda points: all(
        name in points and points[name].quality is Quality.GOOD and points[name].value == value
        for name, value in expected.items()
    )


@asynccontextmanager
async def running(driver: ModbusDriver | MqttDriver, sink: Collector) -> AsyncIterator[None]:
    task = asyncio.create_task(driver.run(sink))
    try:
        yield
    finally:
        task.cancel()
        async with asyncio.timeout(5):
            await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def modbus_played(site: Site) -> AsyncIterator[tuple[SimulatedSite, Collector]]:
    """The site's simulators, and the gateway's Modbus driver reading them."""
    sink = Collector()
    async with (
        SimulatedSite(site) as simulated,
        running(ModbusDriver(modbus_endpoints(site)), sink),
    ):
        yield simulated, sink


NOTIFIER_STATES = [
    pytest.param(
        None,
        {
            "event": "no_active_status",
            "active": False,
            "inactive": True,
            "enabled": True,
            "disabled": False,
            "prealarm": False,
            "trouble": False,
        },
        id="normal",
    ),
    pytest.param(
        "fire",
        {"event": "fire_alarm", "active": True, "inactive": False, "trouble": False},
        id="fire",
    ),
    pytest.param(
        "pre_alarm",
        {"event": "no_active_status", "prealarm": True, "active": False},
        id="pre-alarm",
    ),
    pytest.param("detector_fault", {"trouble": True, "active": False}, id="fault"),
    pytest.param("isolate", {"disabled": True, "enabled": False}, id="isolated"),
]


@pytest.mark.parametrize(("fault", "expected"), NOTIFIER_STATES)
async def test_notifier_point_status_register(
    tmp_path: Path, fault: str | None, expected: dict[str, Any]
) -> None:
    site = load_site(
        write_site(
            tmp_path, "notifier-modbus-gw-point", modbus_at(0, 1, 2), modbus_port=free_port()
        )
    )
    async with modbus_played(site) as (simulated, sink):
        if fault is not None:
            await simulated.apply(fault, "DEV-2")
        points = await sink.until("DEV-2", showing(**expected))
        neighbour = await sink.until("DEV-3", showing(event="no_active_status"))
    assert {name: points[name].value for name in expected} == expected
    assert neighbour["active"].value is False  # one register per detector: no spill-over


@pytest.mark.parametrize(
    ("fault", "alarm", "trouble"),
    [(None, False, False), ("fire", True, False), ("detector_fault", False, True)],
)
async def test_siemens_fc20_element_tables(
    tmp_path: Path, fault: str | None, alarm: bool, trouble: bool
) -> None:
    site = load_site(
        write_site(tmp_path, "siemens-fc20-alarm-fault", modbus_at(7), modbus_port=free_port())
    )
    [spec] = modbus_endpoints(site)
    assert {(p.address + 7) for p in spec.devices[0].profile.points} == {19007, 20007}
    async with modbus_played(site) as (simulated, sink):
        if fault is not None:
            await simulated.apply(fault, "DEV-1")
        await sink.until("DEV-1", showing(alarm=alarm, fault=trouble))


DERIVED_STATUS = [
    pytest.param("notifier-modbus-gw-point", None, "normal", id="notifier-normal"),
    pytest.param("notifier-modbus-gw-point", "fire", "fire", id="notifier-fire"),
    pytest.param("notifier-modbus-gw-point", "pre_alarm", "pre_alarm", id="notifier-pre-alarm"),
    pytest.param("notifier-modbus-gw-point", "detector_fault", "fault", id="notifier-fault"),
    pytest.param("notifier-modbus-gw-point", "isolate", "isolated", id="notifier-isolated"),
    pytest.param("siemens-fc20-alarm-fault", None, "normal", id="siemens-normal"),
    pytest.param("siemens-fc20-alarm-fault", "fire", "fire", id="siemens-fire"),
    pytest.param("siemens-fc20-alarm-fault", "detector_fault", "fault", id="siemens-fault"),
]


@pytest.mark.parametrize(("profile", "fault", "status"), DERIVED_STATUS)
async def test_vendor_profiles_derive_the_detector_status(
    tmp_path: Path, profile: str, fault: str | None, status: str
) -> None:
    site = load_site(write_site(tmp_path, profile, modbus_at(0, 1), modbus_port=free_port()))
    async with modbus_played(site) as (simulated, sink):
        if fault is not None:
            await simulated.apply(fault, "DEV-1")
        points = await sink.until("DEV-1", showing(status=status))
        await sink.until("DEV-2", showing(status="normal"))
    assert len({reading.observed_at for reading in points.values()}) == 1  # one poll


@pytest.mark.parametrize("profile", ["notifier-modbus-gw-point", "siemens-fc20-alarm-fault"])
async def test_a_vendor_detector_in_fire_raises_a_fire_alarm(tmp_path: Path, profile: str) -> None:
    site = load_site(write_site(tmp_path, profile, modbus_at(0, 1), modbus_port=free_port()))
    engine, sink = RuleEngine(device_infos(site), clock=FakeClock()), Collector()
    events: list[AlarmEvent] = []

    async def rules(readings: Sequence[Reading]) -> None:
        events.extend(engine.on_readings(readings))
        await sink(readings)

    def raised() -> list[AlarmEvent]:
        return [event for event in events if event.kind is EventKind.RAISED]

    driver = ModbusDriver(modbus_endpoints(site))
    async with SimulatedSite(site) as simulated, running(driver, rules):
        await sink.until("DEV-2", showing(status="normal"))
        assert raised() == []
        await simulated.apply("fire", "DEV-2")
        await eventually(lambda: bool(raised()), what="a raised alarm")
    [event] = raised()
    assert (event.alarm_id, event.alarm.alarm_class, event.alarm.device) == (
        "fire:DEV-2",
        AlarmClass.FIRE,
        "DEV-2",
    )


def test_a_derived_point_naming_an_unknown_state_is_a_config_error(tmp_path: Path) -> None:
    text = (PROFILES / "siemens-fc20-alarm-fault.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "profiles" / "siemens-fc20-alarm-fault.yaml"
    broken.parent.mkdir()
    broken.write_text(text.replace("{state: fault, when: fault}", "{state: fault, when: faults}"))
    site = write_site(tmp_path, "siemens-fc20-alarm-fault", modbus_at(0)).read_text()
    (tmp_path / "site.yaml").write_text(
        site.replace(str(PROFILES / "siemens-fc20-alarm-fault"), str(broken.with_suffix("")))
    )
    with pytest.raises(
        ConfigError, match="derived point 'status', state 'fault': no register point 'faults'"
    ):
        load_site(tmp_path / "site.yaml")


def test_two_siemens_fc20_elements_on_one_unit(tmp_path: Path) -> None:
    """Element n reads registers 19000+n and 20000+n: neighbours interleave, never overlap."""
    site = load_site(write_site(tmp_path, "siemens-fc20-alarm-fault", modbus_at(0, 1)))
    assert len(site.devices) == 2


async def test_analog_input_channel_scales_and_flags_a_broken_loop(tmp_path: Path) -> None:
    site = load_site(
        write_site(tmp_path, "analog-input-4-20ma", modbus_at(0, 1), modbus_port=free_port())
    )
    async with modbus_played(site) as (simulated, sink):
        healthy = await sink.until(
            "DEV-1", lambda p: "pressure" in p and p["pressure"].quality is Quality.GOOD
        )
        await simulated.apply("sensor_fault", "DEV-2", ma=2.0)
        broken = await sink.until(
            "DEV-2", lambda p: "pressure" in p and p["pressure"].quality is Quality.OUT_OF_RANGE
        )
    assert healthy["pressure"].quality is Quality.GOOD
    assert 0.3 < float(healthy["pressure"].value or 0) < 0.5  # static riser pressure, MPa
    assert healthy["pressure"].unit == "MPa"
    assert broken["loop_current"].value == 2.0
    assert broken["pressure"].detail == "loop current 2.00 mA (NAMUR NE 43 sensor fault)"


@asynccontextmanager
async def mqtt_played(
    site: Site, broker: MosquittoServer
) -> AsyncIterator[tuple[SimulatedSite, Collector]]:
    """The site's simulators publishing to `broker`, and the gateway's MQTT driver."""
    sink = Collector()
    driver = MqttDriver(BrokerSpec(host=broker.host, port=broker.port), mqtt_devices(site))
    async with SimulatedSite(site, mqtt_port=broker.port) as simulated, running(driver, sink):
        yield simulated, sink


def topics(count: int) -> list[str]:
    """Topics no other test on the session's broker uses."""
    root = uuid.uuid4().hex
    return [f"{{topic: test/{root}/dev-{n + 1}}}" for n in range(count)]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param(
            None,
            {
                "status": "normal",
                "smoke": False,
                "fault": False,
                "tamper": False,
                "battery": 100.0,
                "battery_low": False,
            },
            id="normal",
        ),
        pytest.param("fire", {"status": "fire", "smoke": True}, id="fire"),
        pytest.param("detector_fault", {"fault": True, "smoke": False}, id="fault"),
    ],
)
async def test_iot_smoke_alarm(
    tmp_path: Path, mosquitto: MosquittoServer, fault: str | None, expected: dict[str, Any]
) -> None:
    site = load_site(write_site(tmp_path, "iot-smoke-alarm", topics(1), mqtt_port=mosquitto.port))
    async with mqtt_played(site, mosquitto) as (simulated, sink):
        if fault is not None:
            await simulated.apply(fault, "DEV-1")
        await sink.until("DEV-1", showing(**expected))


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param(
            None,
            {
                "online": True,
                "recording": True,
                "video_loss": False,
                "tamper": False,
                "file_retained": "normal",
                "disk_free": 40.0,
            },
            id="healthy",
        ),
        pytest.param(
            "camera_offline", {"online": False, "recording": False, "fps": 0.0}, id="offline"
        ),
        pytest.param("not_recording", {"online": True, "recording": False}, id="not-recording"),
        pytest.param("video_loss", {"video_loss": True, "fps": 0.0}, id="video-loss"),
        pytest.param("tamper", {"tamper": True}, id="tamper"),
    ],
)
async def test_nvr_camera_health(
    tmp_path: Path, mosquitto: MosquittoServer, fault: str | None, expected: dict[str, Any]
) -> None:
    site = load_site(write_site(tmp_path, "nvr-camera-health", topics(1), mqtt_port=mosquitto.port))
    async with mqtt_played(site, mosquitto) as (simulated, sink):
        if fault is not None:
            await simulated.apply(fault, "DEV-1")
        points = await sink.until("DEV-1", showing(**expected))
    assert points["retention_days"].value in (92, 93, 94)


def nvr_profile() -> MqttProfile:
    return MqttProfile.model_validate(profile_header(PROFILES / "nvr-camera-health.yaml"))


@pytest.mark.parametrize(
    ("field", "raw", "point", "value", "detail"),
    [
        ("connection", "Connected", "online", True, None),
        ("connection", "Disconnected", "online", False, None),
        ("connection", "Rebooting", "online", None, "unknown value 'Rebooting'"),
        ("recording_status", "Not Record", "recording", False, None),
        ("recording_status", "Unknown", "recording", None, "unknown value 'Unknown'"),
    ],
)
def test_nvr_status_words_become_flags(
    field: str, raw: str, point: str, value: bool | None, detail: str | None
) -> None:
    document = {
        "connection": "Connected",
        "recording_status": "Recording",
        "main_stream": {"fps": 25, "bitrate_kbps": 4096},
        "storage": {"retention_days": 92, "file_retained": "Normal"},
        "events": {"video_loss": False, "tamper": False},
        field: raw,
    }
    results = {
        name: (got, detail)
        for name, got, _, detail in decode_payload(nvr_profile(), json.dumps(document).encode())
    }
    assert results[point] == (value, detail)
