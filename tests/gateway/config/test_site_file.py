"""Site config: the reference site loads, and every kind of mistake names file, line and field."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from drivers.mqtt.routing import TopicRouter
from gateway.config import ConfigError, load_site
from gateway.runtime.wiring import mqtt_devices
from rules import DeviceKind
from tests.sites import CONFIG

PANEL = "id: opd-panel, host: 127.0.0.1, port: 15020"


@pytest.fixture
def hospital(tmp_path: Path) -> Path:
    """A private copy of the reference site that a test may break."""
    shutil.copytree(CONFIG / "profiles", tmp_path / "profiles")
    copy = tmp_path / "site.yaml"
    copy.write_text((CONFIG / "hospital.yaml").read_text())
    return copy


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text()
    assert old in text, f"test setup: {old!r} not in {file.name}"
    file.write_text(text.replace(old, new, 1))


def line_of(file: Path, needle: str) -> int:
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"test setup: {needle!r} not in {file.name}")


def errors_of(file: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_site(file)
    return str(caught.value).splitlines()


def test_reference_site_has_the_design_counts() -> None:
    site = load_site(CONFIG / "hospital.yaml")
    counts = site.count_by_kind()
    assert counts == {
        DeviceKind.SMOKE_DETECTOR: 120,
        DeviceKind.HYDRANT_PRESSURE: 35,
        DeviceKind.CAMERA: 40,
    }
    assert (len(site.buildings), len(site.zones)) == (4, 23)
    assert {"panel-detector", "io-hydrant", "camera-health"} <= set(site.profiles)


def test_device_lookups_and_supervision_window() -> None:
    site = load_site(CONFIG / "hospital.yaml")
    detector = site.devices["OPD-SD-001"]
    camera = site.devices["IP1-CAM-01"]
    assert site.tags(detector) == {
        "site": "st-lukes",
        "building": "opd",
        "zone": "opd-1f-er",
        "device": "OPD-SD-001",
    }
    assert site.supervision(detector) == 3.0
    assert site.supervision(camera) == 15.0
    assert site.building_of(camera).name == "Inpatient building 1"


def test_an_rtu_endpoint_has_the_modbus_serial_defaults(hospital: Path) -> None:
    edit(hospital, PANEL, "id: opd-panel, serial: /dev/ttyUSB0, baudrate: 19200")
    endpoint = load_site(hospital).config.modbus.endpoints[0]
    assert (endpoint.host, endpoint.serial, endpoint.baudrate) == (None, "/dev/ttyUSB0", 19200)
    assert (endpoint.parity, endpoint.stopbits, endpoint.bytesize) == ("E", 1, 8)  # 8E1
    assert endpoint.merge_gap == 8


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        (
            "zone: opd-1f-hall, profile: panel-detector",
            "zone: op-2f, profile: panel-detector",
            "zone: op-2f",
            "devices[6].zone: unknown zone 'op-2f'",
        ),
        (
            "unit: 2, address: 0",
            "unit: two, address: 0",
            "unit: two",
            "devices[44].source.unit: expected a whole number, got 'two'",
        ),
        ("risk: high}", "risk: high, colour: red}", "colour: red", "zones[0].colour: unknown key"),
        (
            "timeout: 1s}   # fire panel",
            "timeout: fast}   # fire panel",
            "timeout: fast",
            "modbus.endpoints[0].timeout: expected a duration such as 10s or 2m, got 'fast'",
        ),
        (
            "port: 1883,",
            "port: 1883, password: hunter2,",
            "hunter2",
            "mqtt.password: secrets are never written inline: use {env: NAME} or {file: PATH}",
        ),
        (
            "profiles: [profiles/]",
            "profiles: [profiles/, extra/]",
            "extra/",
            "profiles[1]: no such file or folder 'extra'",
        ),
        (
            "id: OPD-SD-003,",
            "id: OPD-SD-002,",
            "address: 8}",
            "devices[2].id: duplicate id 'OPD-SD-002' (also at index 1)",
        ),
        (
            "address: 8}}",
            "address: 5}}",
            "address: 5}}",
            "devices[2].source: input_register 5-7 of unit 1 on 'opd-panel' overlap device "
            "'OPD-SD-002'",
        ),
        (
            "profile: io-hydrant",
            "profile: panel-detector",
            "OPD-HP-01",
            "devices[36].profile: profile 'panel-detector' is for smoke_detector, not "
            "hydrant_pressure",
        ),
        (
            "endpoint: opd-io",
            "endpoint: opd-i0",
            "opd-i0",
            "devices[36].source.endpoint: unknown Modbus endpoint 'opd-i0'",
        ),
        (
            'building: util, name: "Central',
            'building: utl, name: "Central',
            "building: utl",
            "zones[19].building: unknown building 'utl'",
        ),
        (
            PANEL,
            "id: opd-panel, host: 127.0.0.1, serial: /dev/ttyUSB0, port: 15020",
            "ttyUSB0",
            "modbus.endpoints[0].serial: give host or serial, not both (host '127.0.0.1', serial "
            "'/dev/ttyUSB0')",
        ),
        (
            PANEL,
            "id: opd-panel, port: 15020",
            "id: opd-panel",
            "modbus.endpoints[0].serial: an endpoint needs host (Modbus TCP)"
            " or serial (Modbus RTU)",
        ),
        (
            PANEL,
            "id: opd-panel, serial: /dev/ttyUSB0, port: 15020",
            "ttyUSB0",
            "modbus.endpoints[0].port: a serial (Modbus RTU) endpoint has no port",
        ),
        (
            PANEL,
            f"{PANEL}, baudrate: 19200",
            "baudrate",
            "modbus.endpoints[0].baudrate: baudrate is for serial (Modbus RTU) endpoints, not TCP",
        ),
        (
            PANEL,
            "id: opd-panel, serial: /dev/ttyUSB0, parity: X",
            "ttyUSB0",
            "modbus.endpoints[0].parity: expected 'N', 'E' or 'O', got 'X'",
        ),
        (
            PANEL,
            "id: opd-panel, serial: /dev/ttyUSB0, stopbits: 3",
            "ttyUSB0",
            "modbus.endpoints[0].stopbits: expected 1 or 2, got 3",
        ),
        (
            "id: opd-panel, host: 127.0.0.1, port: 15020, timeout: 1s",
            "id: opd-panel, serial: /dev/ttyUSB0, timeout: 300ms",
            "ttyUSB0",
            "modbus.endpoints[0].timeout: 0.3 s is less than the 305 ms a read of 123 input "
            "registers of unit 1 takes on the wire at 9600 baud; every such read would time out",
        ),
        (
            "id: OPD-SD-003,",
            "id: firegw-st-lukes,",
            "firegw-st-lukes",
            "devices[2].id: 'firegw-st-lukes' is the gateway's own id (for its trouble alarms); "
            "choose another",
        ),
        (
            "id: OPD-SD-003,",
            "id: mqtt-broker,",
            "mqtt-broker",
            "devices[2].id: 'mqtt-broker' names a connection (its link_lost alarm); choose another",
        ),
    ],
)
def test_a_mistake_names_file_line_and_field(
    hospital: Path, old: str, new: str, needle: str, expected: str
) -> None:
    edit(hospital, old, new)
    assert errors_of(hospital) == [f"site.yaml:{line_of(hospital, needle)}: {expected}"]


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        (
            "port: 1883,",
            "port: '1883x',",
            "1883x",
            "mqtt.port: expected a whole number, got '1883x'",
        ),
        ("port: 1883,", "port: 70000,", "70000", "mqtt.port: must be at most 65535, got 70000"),
        (
            "port: 1883,",
            "port: 1883, keepalive: 1.5,",
            "keepalive",
            "mqtt.keepalive: expected a whole number, got 1.5",
        ),
        (
            "site: {id: st-lukes,",
            'site: {id: "st lukes",',
            "st lukes",
            "site.id: an id is letters, digits, '_', '.' and '-', starting with a letter or digit "
            "(got 'st lukes')",
        ),
        (
            'name: "St Luke\'s General Hospital"}',
            "name: }",
            "site: {id",
            "site.name: expected text, got nothing (an empty value)",
        ),
        (
            "risk: high}",
            "risk: highest}",
            "highest",
            "zones[0].risk: expected 'low', 'medium' or 'high', got 'highest'",
        ),
        (
            "profiles: [profiles/]",
            "profiles: profiles/",
            "profiles:",
            "profiles: expected a list, got 'profiles/'",
        ),
        (
            "source: {endpoint: opd-panel, unit: 1, address: 0}}",
            "source: [opd-panel, 1, 0]}",
            "source: [opd-panel",
            "devices[0].source: expected a mapping (key: value, ...), got a list",
        ),
        (
            "defaults: {poll_interval: 1s,",
            "defaults: {poll_interval: 0s,",
            "defaults:",
            "defaults.poll_interval: must be more than 0, got '0s'",
        ),
        (
            "mqtt: {host: 127.0.0.1,",
            "mqtt: {host: [127.0.0.1],",
            "mqtt:",
            "mqtt.host: expected text, got a list",
        ),
    ],
)
def test_a_wrong_value_is_said_in_the_projects_words(
    hospital: Path, old: str, new: str, needle: str, expected: str
) -> None:
    """Not pydantic's: "Input should be a valid integer, unable to parse string as an integer"
    was "expected a whole number"; no union tags or class names in a field or a message."""
    edit(hospital, old, new)
    assert errors_of(hospital) == [f"site.yaml:{line_of(hospital, needle)}: {expected}"]


def test_a_profile_of_an_unknown_protocol_names_its_protocol_line(hospital: Path) -> None:
    profile = hospital.parent / "profiles" / "io-hydrant.yaml"
    edit(profile, "protocol: modbus", "protocol: bacnet")
    assert errors_of(hospital) == [
        f"io-hydrant.yaml:{line_of(profile, 'bacnet')}: protocol: expected one of 'modbus', "
        "'mqtt', got 'bacnet'"
    ]


def test_a_union_of_types_is_one_message(hospital: Path) -> None:
    """An MQTT enum maps to a state name or true/false: pydantic says so once per member."""
    profile = hospital.parent / "profiles" / "camera-health.yaml"
    edit(
        profile,
        "{name: online, path: online, type: bool}",
        "{name: online, path: online, type: str, enum: {up: 1.5}}",
    )
    assert errors_of(hospital) == [
        f"camera-health.yaml:{line_of(profile, 'up: 1.5')}: points[0].enum.up: expected text or "
        "true or false, got 1.5"
    ]


CAM1 = 'source: {topic: "st-lukes/nvr/{device}/health"}}'  # the first camera, OPD-CAM-01
MQTT = "mqtt: {host: 127.0.0.1, port: 1883, topic_prefix: firegw}"
TEMPLATE = "st-lukes/nvr/{device}/health"


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        (
            CAM1,
            f'source: {{topic: "{TEMPLATE}", key: OPD-CAM-02}}}}',
            "id: OPD-CAM-02",
            "devices[47].source.topic: topic 'st-lukes/nvr/OPD-CAM-02/health' is already used by "
            "device 'OPD-CAM-01'",
        ),
        (
            CAM1,
            "source: {topic: st-lukes/nvr/ch01/health}}",
            "id: OPD-CAM-02",
            "devices[47].source.topic: topic 'st-lukes/nvr/{device}/health' overlaps "
            "'st-lukes/nvr/ch01/health' of device 'OPD-CAM-01': a message could be meant for "
            "either",
        ),
        (
            CAM1,
            'source: {topic: "st-lukes/nvr/ch01/{device}"}}',
            "id: OPD-CAM-02",
            "devices[47].source.topic: topic 'st-lukes/nvr/{device}/health' overlaps "
            "'st-lukes/nvr/ch01/{device}' of device 'OPD-CAM-01': a message could be meant for "
            "either",
        ),
        (
            CAM1,
            'source: {topic: "st-lukes/{device}/{device}/health"}}',
            "{device}/{device}",
            "devices[46].source.topic: {device} may appear only once in a topic (got "
            "'st-lukes/{device}/{device}/health')",
        ),
        (
            CAM1,
            'source: {topic: "st-lukes/nvr/+/health"}}',
            "nvr/+/health",
            "devices[46].source.topic: a topic with + or # needs a {device} level to say which "
            "device a message is for (got 'st-lukes/nvr/+/health')",
        ),
        (
            CAM1,
            'source: {topic: "st-lukes/#/{device}"}}',
            "st-lukes/#",
            "devices[46].source.topic: # may only be the last level of a topic (got "
            "'st-lukes/#/{device}')",
        ),
        (
            CAM1,
            'source: {topic: "st-lukes/nvr/cam-{device}"}}',
            "cam-{device}",
            "devices[46].source.topic: {device} must be a whole topic level, between two '/' (got "
            "'st-lukes/nvr/cam-{device}')",
        ),
        (
            CAM1,
            "source: {topic: st-lukes/cam01, key: ch01}}",
            "key: ch01",
            "devices[46].source.topic: a key applies only to a topic template with {device}, not "
            "'st-lukes/cam01'",
        ),
        (
            CAM1,
            f'source: {{topic: "{TEMPLATE}", key: ch/01}}}}',
            "key: ch/01",
            "devices[46].source.key: a key is one topic level: it cannot contain '/' (got 'ch/01')",
        ),
        (
            CAM1,
            "source: mqtt}",
            "source: mqtt}",
            "devices[46].source: an MQTT device needs a topic: give it one, or give mqtt: a "
            "topic_template",
        ),
        (
            CAM1,
            "source: mqq}",
            "source: mqq}",
            "devices[46].source: write `mqtt` (the site's topic_template) or a mapping such as "
            "{topic: ...}, not 'mqq'",
        ),
        (
            MQTT,
            "mqtt: {host: 127.0.0.1, port: 1883, topic_template: st-lukes/nvr/health}",
            "topic_template",
            "mqtt.topic_template: a topic template needs a {device} level (got "
            "'st-lukes/nvr/health')",
        ),
        (
            "topic_prefix: firegw",
            'topic_prefix: "firegw/+"',
            "topic_prefix",
            "mqtt.topic_prefix: a topic prefix cannot contain the wildcards + or #: alarms are "
            "published under it (got 'firegw/+')",
        ),
        (
            "topic_prefix: firegw",
            'topic_prefix: "campus/#"',
            "topic_prefix",
            "mqtt.topic_prefix: a topic prefix cannot contain the wildcards + or #: alarms are "
            "published under it (got 'campus/#')",
        ),
        (
            "topic_prefix: firegw",
            "topic_prefix: /firegw",
            "topic_prefix",
            "mqtt.topic_prefix: a topic prefix cannot have an empty level (a leading '/' or '//') "
            "(got '/firegw')",
        ),
        (
            "topic_prefix: firegw",
            "topic_prefix: campus//firegw",
            "topic_prefix",
            "mqtt.topic_prefix: a topic prefix cannot have an empty level (a leading '/' or '//') "
            "(got 'campus//firegw')",
        ),
        (
            "topic_prefix: firegw",
            'topic_prefix: "$SYS/firegw"',
            "topic_prefix",
            "mqtt.topic_prefix: a topic prefix cannot start with '$': those topics are the "
            "broker's own (got '$SYS/firegw')",
        ),
        (
            "topic_prefix: firegw",
            'topic_prefix: ""',
            "topic_prefix",
            "mqtt.topic_prefix: a topic prefix cannot be empty (got '')",
        ),
        (
            "topic_prefix: firegw",
            'topic_prefix: "fire\\0gw"',
            "topic_prefix",
            "mqtt.topic_prefix: text cannot contain the control character U+0000",
        ),
    ],
)
def test_an_mqtt_topic_mistake_names_file_line_and_field(
    hospital: Path, old: str, new: str, needle: str, expected: str
) -> None:
    edit(hospital, old, new)
    assert errors_of(hospital) == [f"site.yaml:{line_of(hospital, needle)}: {expected}"]


def test_the_site_template_gives_devices_their_topics(hospital: Path) -> None:
    """One template under mqtt:, cameras by id or by the NVR's channel: one subscription."""
    edit(hospital, MQTT, MQTT.replace("}", f', topic_template: "{TEMPLATE}"}}'))
    edit(hospital, CAM1, "source: {key: ch01}}")
    edit(hospital, CAM1, "source: mqtt}")
    site = load_site(hospital)
    cameras = ("OPD-CAM-01", "OPD-CAM-02", "OPD-CAM-03")
    topics = [site.mqtt_topic(site.devices[camera]).topic for camera in cameras]
    assert topics == [
        "st-lukes/nvr/ch01/health",
        "st-lukes/nvr/OPD-CAM-02/health",
        "st-lukes/nvr/OPD-CAM-03/health",
    ]
    devices = mqtt_devices(site)
    assert len(devices) == 40
    assert TopicRouter(devices).subscriptions == ["st-lukes/nvr/+/health"]


def test_every_problem_is_listed_in_file_order(hospital: Path) -> None:
    edit(hospital, "zone: opd-1f-hall, profile: panel-detector", "zone: nowhere, profile: x")
    edit(hospital, "endpoint: opd-io", "endpoint: opd-i0")
    errors = errors_of(hospital)
    assert [re.sub(r":\d+:", ":N:", e) for e in errors] == [
        "site.yaml:N: devices[6].zone: unknown zone 'nowhere'",
        "site.yaml:N: devices[6].profile: unknown profile 'x'",
        "site.yaml:N: devices[36].source.endpoint: unknown Modbus endpoint 'opd-i0'",
    ]


def test_a_broken_profile_names_the_profile_file(hospital: Path) -> None:
    profile = hospital.parent / "profiles" / "io-hydrant.yaml"
    edit(profile, "type: u16\n    scale: 0.001\n    unit: mA", "type: u17\n    scale: 0.001")
    line = line_of(profile, "u17")
    [error] = errors_of(hospital)
    assert error == (
        f"io-hydrant.yaml:{line}: points[0].type: expected 'bool', 'u16', 'i16', 'u32', 'i32', "
        "'u64', 'i64', 'f32' or 'f64', got 'u17'"
    )


def test_missing_file_and_yaml_syntax(tmp_path: Path) -> None:
    missing = errors_of(tmp_path / "nope.yaml")
    assert missing == ["nope.yaml: cannot read: No such file or directory"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: {id: x, name: y}\nbuildings:\n  - {id: a, name: b\n")
    [error] = errors_of(bad)
    assert error.startswith("bad.yaml:4: YAML syntax: ")


def test_duplicate_yaml_keys_are_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "dup.yaml"
    bad.write_text("site: {id: x, name: y}\nsite: {id: z, name: w}\n")
    assert errors_of(bad) == ["dup.yaml:2: duplicate key 'site'"]


def secret_file(folder: Path, text: str = "s3cret\n", mode: int = 0o600) -> Path:
    """A secret file as it should be: readable by its owner only."""
    secret = folder / "mqtt-password"
    secret.write_text(text)
    secret.chmod(mode)
    return secret


def test_secret_references_resolve_at_run_time(
    hospital: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secret_file(tmp_path)
    edit(hospital, "port: 1883,", f"port: 1883, password: {{file: {secret}}},")
    site = load_site(hospital)
    assert site.config.mqtt is not None
    assert site.config.mqtt.password is not None
    assert site.config.mqtt.password.reveal() == "s3cret"
    edit(hospital, f"{{file: {secret}}}", "{env: FIREGW_TEST_SECRET}")
    monkeypatch.setenv("FIREGW_TEST_SECRET", "s3cret")
    password = load_site(hospital).config.mqtt.password  # type: ignore[union-attr]
    monkeypatch.delenv("FIREGW_TEST_SECRET")  # gone between the check and the start
    with pytest.raises(LookupError, match="environment variable FIREGW_TEST_SECRET is not set"):
        password.reveal()  # type: ignore[union-attr]


def test_a_relative_secret_file_is_beside_the_site_file(hospital: Path) -> None:
    """Like the profiles and the outbox, wherever the gateway is started from."""
    secret_file(hospital.parent)
    edit(hospital, "port: 1883,", "port: 1883, password: {file: mqtt-password},")
    password = load_site(hospital).config.mqtt.password  # type: ignore[union-attr]
    assert password.file == hospital.parent / "mqtt-password"  # type: ignore[union-attr]
    assert password.reveal() == "s3cret"  # type: ignore[union-attr]


OUTBOX = "outbox: {path: ../var/st-lukes-outbox.sqlite}"


def with_influxdb(file: Path, section: str) -> None:
    """Give the site `section` (YAML text for `influxdb:`) just before its outbox line."""
    edit(file, OUTBOX, f"{section}\n{OUTBOX}")


@pytest.mark.parametrize(
    ("section", "needle", "expected"),
    [
        (
            "influxdb: {url: http://db:8086}",
            "influxdb:",
            "influxdb.database: required, but missing",
        ),
        (
            "influxdb: {api: v2, url: http://db:8086, org: o, token: {env: T}}",
            "influxdb:",
            "influxdb.bucket: required, but missing",
        ),
        (
            "influxdb: {api: v2, url: http://db:8086, org: o, bucket: b}",
            "influxdb:",
            "influxdb.token: required, but missing",
        ),
        (
            "influxdb: {api: v2, url: http://db:8086, org: o, bucket: b, token: s3cret}",
            "s3cret",
            "influxdb.token: secrets are never written inline: use {env: NAME} or {file: PATH}",
        ),
        (
            "influxdb: {api: v2, url: http://db:8086, database: x, org: o, bucket: b,\n"
            "           token: {env: T}}",
            "database: x",
            "influxdb.database: unknown key",
        ),
        ("influxdb: {api: v3, url: http://db:8086}", "influxdb:", "influxdb: api must be v1 or v2"),
        (
            "influxdb:\n  - {url: http://local:8086, database: firegw}\n"
            "  - {api: v2, url: https://central, bucket: b, token: {env: T}}",
            "central",
            "influxdb[1].org: required, but missing",
        ),
        (
            "influxdb:\n  - {url: http://local:8086, database: firegw}\n"
            "  - {api: v2, url: https://central, org: o, bucket: b, token: {env: T}}",
            "central",
            "influxdb[1].name: duplicate name 'influxdb' (also at index 0): give each connection "
            "its own name",
        ),
        (
            "influxdb: {url: 'http://firegw:s3cret@db:8086', database: firegw}",
            "influxdb:",
            "influxdb.url: a URL cannot carry a user name or password (got 'http://***@db:8086'): "
            "anyone who can read the logs or the status topic would read it; give username: and "
            "password: {file: PATH} (or {env: NAME}) instead",
        ),
        (
            "influxdb: {api: v2, url: 'https://:s3cret@db', org: o, bucket: b, token: {env: T}}",
            "influxdb:",
            "influxdb.url: a URL cannot carry a user name or password (got 'https://***@db'): "
            "anyone who can read the logs or the status topic would read it; give token: "
            "{file: PATH} (or {env: NAME}) instead",
        ),
        (
            "influxdb: {url: 'http://db:8086/?u=firegw&p=s3cret', database: firegw}",
            "influxdb:",
            "influxdb.url: a URL here has no query or fragment (got 'http://db:8086/?***'); give "
            "username: and password: {file: PATH} (or {env: NAME}) instead",
        ),
        (
            "influxdb: {url: 'ftp://db:8086', database: firegw}",
            "influxdb:",
            "influxdb.url: a URL starts with http:// or https:// (got 'ftp://db:8086')",
        ),
        (
            "influxdb: {url: 'http://db:80860', database: firegw}",
            "influxdb:",
            "influxdb.url: not a URL such as http://10.20.0.5:8086 (got 'http://db:80860')",
        ),
        (
            "outbox: {max_rows: 10}",
            "max_rows",
            "outbox.max_rows: must be at least 1000, got 10",
        ),
    ],
)
def test_an_influxdb_mistake_names_file_line_and_field(
    hospital: Path, section: str, needle: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T", "a-token")
    if section.startswith("outbox:"):
        edit(hospital, OUTBOX, "outbox: {path: ../var/st-lukes-outbox.sqlite, max_rows: 10}")
    else:
        with_influxdb(hospital, section)
    assert errors_of(hospital) == [f"site.yaml:{line_of(hospital, needle)}: {expected}"]


def test_influxdb_takes_one_connection_or_a_list(hospital: Path, tmp_path: Path) -> None:
    token = secret_file(tmp_path, "a-token")
    with_influxdb(hospital, "influxdb: {url: http://db:8086, database: firegw}")
    [only] = load_site(hospital).influx_connections
    assert (only.api, only.name, only.database) == ("v1", "influxdb", "firegw")
    edit(
        hospital,
        "influxdb: {url: http://db:8086, database: firegw}",
        "influxdb:\n  - {name: local, url: http://127.0.0.1:8086, database: firegw}\n"
        "  - {api: v2, name: central, url: https://influx.example, org: st-lukes,\n"
        f"     bucket: fire, token: {{file: {token}}}}}",
    )
    local, central = load_site(hospital).influx_connections
    assert (local.api, local.name) == ("v1", "local")
    assert central.api == "v2"
    assert (central.name, central.org, central.bucket) == ("central", "st-lukes", "fire")
    assert central.token.file == token


def test_a_copy_of_one_endpoint_with_a_field_changed_leaves_the_others_as_given() -> None:
    # objects given the same fields share the set pydantic keeps of them (memory at 10x)
    endpoints = load_site(CONFIG / "hospital.yaml").config.modbus.endpoints
    same = [e for e in endpoints if e.model_fields_set == endpoints[0].model_fields_set]
    assert len(same) > 1
    given = set(endpoints[0].model_fields_set)
    moved = same[0].model_copy(update={"merge_gap": 0})
    assert moved.model_fields_set == given | {"merge_gap"}
    assert [e.model_fields_set for e in same] == [given] * len(same)
