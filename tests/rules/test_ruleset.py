"""The rule set as data: the default table, overrides per kind, zone and device, and errors."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

import rules
from core.reading import Reading
from rules import AlarmClass, DeviceInfo, DeviceKind, Priority, RuleEngine, RuleSet, parse_duration
from rules.clock import FakeClock
from rules.ruleset import RuleConfigError, default_rules

RULES_DIR = Path(rules.__file__).parent
DETECTOR, HYDRANT, CAMERA = (
    DeviceKind.SMOKE_DETECTOR,
    DeviceKind.HYDRANT_PRESSURE,
    DeviceKind.CAMERA,
)

DEFAULT_TABLE = [
    # kind, name, type, class, priority, latched, on-delay
    (DETECTOR, "fire", "state", AlarmClass.FIRE, Priority.CRITICAL, True, 0),
    (DETECTOR, "confirmed_fire", "coincidence", AlarmClass.FIRE, Priority.CRITICAL, True, 0),
    (DETECTOR, "pre_alarm", "state", AlarmClass.FIRE, Priority.HIGH, False, 0),
    (DETECTOR, "detector_fault", "state", AlarmClass.TROUBLE, Priority.MEDIUM, False, 10),
    (DETECTOR, "detector_isolated", "state", AlarmClass.TROUBLE, Priority.MEDIUM, False, 10),
    (DETECTOR, "detector_maintenance", "state", AlarmClass.MAINTENANCE, Priority.LOW, False, 10),
    (DETECTOR, "comms_lost", "supervision", AlarmClass.TROUBLE, Priority.HIGH, False, 0),
    (HYDRANT, "pressure_low", "threshold", AlarmClass.SUPERVISORY, Priority.HIGH, False, 30),
    (HYDRANT, "pressure_high", "threshold", AlarmClass.SUPERVISORY, Priority.MEDIUM, False, 30),
    (HYDRANT, "pressure_falling", "rate", AlarmClass.SUPERVISORY, Priority.HIGH, False, 30),
    (HYDRANT, "signal_invalid", "validity", AlarmClass.TROUBLE, Priority.MEDIUM, False, 10),
    (HYDRANT, "comms_lost", "supervision", AlarmClass.TROUBLE, Priority.MEDIUM, False, 0),
    (CAMERA, "camera_offline", "state", AlarmClass.TROUBLE, Priority.HIGH, False, 10),
    (CAMERA, "camera_not_recording", "state", AlarmClass.TROUBLE, Priority.HIGH, False, 10),
    (CAMERA, "camera_video_loss", "state", AlarmClass.TROUBLE, Priority.HIGH, False, 10),
    (CAMERA, "camera_tamper", "state", AlarmClass.SECURITY, Priority.HIGH, False, 10),
    (CAMERA, "retention_low", "threshold", AlarmClass.MAINTENANCE, Priority.LOW, False, 3600),
    (CAMERA, "fps_low", "threshold", AlarmClass.TROUBLE, Priority.MEDIUM, False, 60),
    (CAMERA, "comms_lost", "supervision", AlarmClass.TROUBLE, Priority.MEDIUM, False, 0),
    (CAMERA, "blind_spot", "blind_spot", AlarmClass.SECURITY, Priority.HIGH, False, 0),
    # a connection many devices depend on (a panel's link, the broker the cameras publish to)
    (DeviceKind.LINK, "link_lost", "state", AlarmClass.TROUBLE, Priority.HIGH, False, 1),
    # the gateway's own history and outbox
    (
        DeviceKind.GATEWAY,
        "history_not_stored",
        "state",
        AlarmClass.TROUBLE,
        Priority.HIGH,
        False,
        0,
    ),
    (
        DeviceKind.GATEWAY,
        "outbox_nearly_full",
        "state",
        AlarmClass.TROUBLE,
        Priority.HIGH,
        False,
        0,
    ),
    # and its storage and its site id
    *(
        (DeviceKind.GATEWAY, name, "state", AlarmClass.TROUBLE, Priority.HIGH, False, 0)
        for name in (
            "outbox_replaced",
            "alarm_store_replaced",
            "disk_full",
            "storage_failing",
            "duplicate_gateway",
        )
    ),
    # and its own pace (a loop that stays behind)
    (
        DeviceKind.GATEWAY,
        "gateway_overloaded",
        "state",
        AlarmClass.TROUBLE,
        Priority.HIGH,
        False,
        10.0,
    ),
    # and its path to the alarm receiving centre (the uplink)
    (DeviceKind.GATEWAY, "uplink_down", "state", AlarmClass.TROUBLE, Priority.HIGH, False, 0),
]


def test_default_rules_are_design_section_4() -> None:
    table = [
        (r.kind, r.name, r.type, r.alarm_class, r.priority, r.latched, r.on_delay)
        for r in default_rules().rules
    ]
    assert table == DEFAULT_TABLE


def test_default_limits() -> None:
    by_name = {(r.kind, r.name): r for r in default_rules().rules}
    low = by_name[(HYDRANT, "pressure_low")]
    assert (low.limit, low.deadband, low.direction) == (0.10, 0.02, "below")  # type: ignore[union-attr]
    assert by_name[(HYDRANT, "pressure_high")].limit == 1.0  # type: ignore[union-attr]
    falling = by_name[(HYDRANT, "pressure_falling")]
    assert (falling.rate, falling.window) == (0.05, 60.0)  # type: ignore[union-attr]
    confirmed = by_name[(DETECTOR, "confirmed_fire")]
    assert (confirmed.count, confirmed.window) == (2, 60.0)  # type: ignore[union-attr]
    assert by_name[(CAMERA, "retention_low")].limit == 90  # type: ignore[union-attr]
    fps = by_name[(CAMERA, "fps_low")]
    assert (fps.limit, fps.nominal) == (0.5, 25.0)  # type: ignore[union-attr]
    policies = default_rules()
    assert (
        policies.escalation.acknowledge,
        policies.escalation.on_site,
        policies.escalation.contain,
    ) == (60, 180, 300)
    assert policies.shelving.max_duration == 3600
    assert (policies.chattering.activations, policies.chattering.window) == (3, 60)


def _device(device_id: str, kind: DeviceKind, zone: str) -> DeviceInfo:
    return DeviceInfo(device_id, kind, zone, "opd", 1000.0)


def _rule(rule_set: RuleSet, device: DeviceInfo, name: str) -> Any:
    matches = [r for r in rule_set.device_rules(device) if r.name == name]
    return matches[0] if matches else None


def test_overrides_apply_kind_then_zone_then_device() -> None:
    rule_set = RuleSet.model_validate(
        {
            "kinds": {"hydrant_pressure": {"pressure_low": {"limit": 0.07, "on_delay": "45s"}}},
            "zones": {"util-lox": {"pressure_low": {"limit": 0.12}}},
            "devices": {"HP-9": {"pressure_low": {"limit": 0.15}}},
        }
    )
    plain = _rule(rule_set, _device("HP-1", HYDRANT, "ward"), "pressure_low")
    in_zone = _rule(rule_set, _device("HP-2", HYDRANT, "util-lox"), "pressure_low")
    device = _rule(rule_set, _device("HP-9", HYDRANT, "util-lox"), "pressure_low")
    assert [(r.limit, r.on_delay) for r in (plain, in_zone, device)] == [
        (0.07, 45.0),
        (0.12, 45.0),
        (0.15, 45.0),
    ]
    assert _rule(rule_set, _device("HP-1", HYDRANT, "ward"), "pressure_high").limit == 1.0


def test_a_zone_with_a_longer_on_delay_raises_later() -> None:
    rule_set = RuleSet.model_validate({"zones": {"lab": {"detector_fault": {"on_delay": 30}}}})
    devices = [_device("SD-1", DETECTOR, "lab"), _device("SD-2", DETECTOR, "ward")]
    clock = FakeClock()
    engine = RuleEngine(devices, rule_set, clock)
    engine.on_readings([Reading("SD-1", "status", "fault"), Reading("SD-2", "status", "fault")])
    clock.advance(10)
    assert [e.alarm_id for e in engine.tick()] == ["detector_fault:SD-2"]
    clock.advance(20)
    assert [e.alarm_id for e in engine.tick()] == ["detector_fault:SD-1"]


def test_a_rule_disabled_for_one_device_raises_nothing_there() -> None:
    rule_set = RuleSet.model_validate({"devices": {"CAM-1": {"camera_tamper": {"enabled": False}}}})
    devices = [_device("CAM-1", CAMERA, "hall"), _device("CAM-2", CAMERA, "hall")]
    clock = FakeClock()
    engine = RuleEngine(devices, rule_set, clock)
    engine.on_readings([Reading("CAM-1", "tamper", True), Reading("CAM-2", "tamper", True)])
    clock.advance(10)
    assert [e.alarm_id for e in engine.tick()] == ["camera_tamper:CAM-2"]


def test_a_different_pressure_minimum_for_one_hydrant() -> None:
    rule_set = RuleSet.model_validate({"devices": {"HP-1": {"pressure_low": {"limit": 0.2}}}})
    devices = [_device("HP-1", HYDRANT, "roof"), _device("HP-2", HYDRANT, "roof")]
    clock = FakeClock()
    engine = RuleEngine(devices, rule_set, clock)
    readings = [Reading("HP-1", "pressure", 0.15), Reading("HP-2", "pressure", 0.15)]
    engine.on_readings(readings)
    clock.advance(30)
    assert [e.alarm_id for e in engine.on_readings(readings)] == ["pressure_low:HP-1"]


def test_confirmed_fire_can_be_switched_off_for_a_zone() -> None:
    rule_set = RuleSet.model_validate({"zones": {"lab": {"confirmed_fire": {"enabled": False}}}})
    devices = [_device("SD-1", DETECTOR, "lab"), _device("SD-2", DETECTOR, "lab")]
    engine = RuleEngine(devices, rule_set, FakeClock())
    events = engine.on_readings(
        [Reading("SD-1", "status", "fire"), Reading("SD-2", "status", "fire")]
    )
    assert [e.alarm_id for e in events] == ["fire:SD-1", "fire:SD-2"]


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        RuleSet.model_validate(data)
    problem = caught.value.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else problem["msg"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"zones": {"lab": {"pressure_lo": {"limit": 0.1}}}},
            "Value error, zones.lab.pressure_lo: no rule named 'pressure_lo'; rules are: ",
        ),
        (
            {"devices": {"CAM-1": {"camera_tamper": {"limit": 3}}}},
            "Value error, devices.CAM-1.camera_tamper.limit:"
            " rule camera_tamper (state) has no limit",
        ),
        (
            {"devices": {"CAM-1": {"blind_spot": {"enabled": False}}}},
            "Value error, devices.CAM-1.blind_spot:"
            " blind_spot is a zone rule; override it under zones",
        ),
        (
            {"kinds": {"camera": {"pressure_low": {"limit": 0.1}}}},
            "Value error, kinds.camera.pressure_low: no rule named 'pressure_low'; rules are: ",
        ),
        ({"kinds": {"sprinkler": {}}}, "kinds.sprinkler.[key]: Input should be "),
        (
            {"zones": {"lab": {"pressure_low": {"on_delay": "soon"}}}},
            "zones.lab.pressure_low.on_delay: Value error, expected a duration such as 10s or 2m, "
            "got 'soon'",
        ),
        (
            {"zones": {"lab": {"pressure_low": {"deadband": -0.01}}}},
            "zones.lab.pressure_low.deadband: Input should be greater than or equal to 0",
        ),
        (
            {"zones": {"lab": {"pressure_low": {"colour": "red"}}}},
            "zones.lab.pressure_low.colour: Extra inputs are not permitted",
        ),
        (
            {"escalation": {"acknowledge": "5m"}},
            "escalation: Value error, escalation times must not decrease: acknowledge 300 s, "
            "on_site 180 s, contain 300 s",
        ),
        (
            {"shelving": {"max_duration": 0}},
            "shelving.max_duration: Input should be greater than 0",
        ),
        (
            {
                "extra": [
                    {
                        "name": "fire",
                        "type": "state",
                        "kind": "smoke_detector",
                        "point": "status",
                        "states": ["fire"],
                        "text": "x",
                        "alarm_class": "fire",
                        "priority": "critical",
                    }
                ]
            },
            "Value error, two rules named 'fire' for smoke_detector",
        ),
        (
            {
                "extra": [
                    {
                        "name": "smoky",
                        "type": "coincidence",
                        "kind": "camera",
                        "source": "fire",
                        "text": "x",
                        "alarm_class": "fire",
                        "priority": "critical",
                    }
                ]
            },
            "Value error, rule 'smoky' refers to 'fire', no camera rule",
        ),
        ({"extra": [{"name": "x", "type": "sprinkler"}]}, "extra.0: Input tag 'sprinkler' found "),
        (
            {"kinds": {"hydrant_pressure": {"pressure_low": {"limit": "nan"}}}},
            "kinds.hydrant_pressure.pressure_low.limit: Input should be a finite number",
        ),
        (
            {"escalation": {"acknowledge": "9" * 400 + "h"}},
            "escalation.acknowledge: Value error, expected a duration such as 10s or 2m, got '999",
        ),
    ],
)
def test_config_errors_name_the_key_and_the_value(data: dict[str, Any], message: str) -> None:
    assert _error(data).startswith(message)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"zones": {"nowhere": {"fire": {"enabled": False}}}},
            "rules.zones.nowhere: no device is in zone 'nowhere'",
        ),
        (
            {"devices": {"SD-9": {"fire": {"enabled": False}}}},
            "rules.devices.SD-9: unknown device 'SD-9'",
        ),
    ],
)
def test_overrides_must_name_devices_and_zones_of_the_site(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(RuleConfigError, match=re.escape(message)):
        RuleEngine([_device("SD-1", DETECTOR, "lab")], RuleSet.model_validate(data), FakeClock())


def test_a_device_listed_twice_is_an_error() -> None:
    devices = [_device("SD-1", DETECTOR, "lab"), _device("SD-1", DETECTOR, "lab")]
    message = "rules.devices.SD-1: device SD-1 is listed twice"
    with pytest.raises(RuleConfigError, match=re.escape(message)):
        RuleEngine(devices, None, FakeClock())


@pytest.mark.parametrize(
    ("kind", "supervision", "message"),
    [
        (
            "sprinkler",
            3.0,
            "device X: unknown kind 'sprinkler'; expected one of smoke_detector, "
            "hydrant_pressure, camera",
        ),
        ("camera", 0.0, "device X: supervision must be a positive number of seconds, got 0.0"),
    ],
)
def test_device_info_is_checked(kind: str, supervision: float, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        DeviceInfo("X", kind, "z", "b", supervision)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("10s", 10.0), ("2m", 120.0), ("1h", 3600.0), (30, 30.0), ("1.5 min", 90.0)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_the_readme_example_is_a_valid_rule_set_for_the_reference_site() -> None:
    readme = (RULES_DIR / "README.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    rule_set = RuleSet.model_validate(yaml.safe_load(block)["rules"])
    devices = [
        DeviceInfo("OPD-HP-03", HYDRANT, "util-lox", "util"),
        DeviceInfo("OPD-CAM-07", CAMERA, "opd-4f-or", "opd"),
        DeviceInfo("OPD-SD-001", DETECTOR, "opd-4f-or", "opd"),
    ]
    engine = RuleEngine(devices, rule_set, FakeClock())
    assert "heat_high:OPD-SD-001" not in engine.alarms
    assert engine.on_readings([Reading("OPD-SD-001", "temperature", 60.0)]) == []
    assert _rule(rule_set, devices[0], "pressure_low").limit == 0.15


def test_the_rules_package_is_pure() -> None:
    """No protocol, storage, gateway or asyncio knowledge: readings in, events out."""
    forbidden = {
        "asyncio",
        "gateway",
        "simulators",
        "socket",
        "sqlite3",
        "aiomqtt",
        "pymodbus",
        "influxdb_client",
        "logging",
        "threading",
    }
    for path in RULES_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
            for name in names:
                if name.startswith("drivers"):
                    assert name == "core.reading", f"{path.name} imports {name}"
