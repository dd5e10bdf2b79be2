"""`check` refuses a profile that cannot feed the rules of its device kind (issue 12, problem 4).

A profile without the point a default rule reads, a state name the rules do not know, a
pressure in kPa or as whole MPa: each would switch a rule off without a word, so each is an
error naming the profile's file, line and field. A rule switched off on purpose under
`rules:` (`enabled: false`) makes its point unnecessary. A transmitter range that looks like
kPa or bar is a warning: printed by `check` on stderr with file and line, exit status 0.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from firegw.main import main
from gateway.config import ConfigError, load_site

DETECTOR_RULES = "fire, pre_alarm, detector_fault, detector_isolated and detector_maintenance"
HYDRANT_RULES = "pressure_low, pressure_high, pressure_falling and signal_invalid"

NEW_PANEL = """\
# A panel nobody has mapped before: one flag per condition, no status point.
id: new-panel
protocol: modbus
kind: smoke_detector
points:
  - {name: alarm, function: input_register, address: 0, type: bool, bits: [0, 0]}
  - {name: trouble, function: input_register, address: 0, type: bool, bits: [1, 1]}
"""

NEW_PANEL_DERIVED = (
    NEW_PANEL
    + """\
  - {name: prealarm_flag, function: input_register, address: 0, type: bool, bits: [2, 2]}
derived:
  - name: status
    first_of:
      - {state: fire, when: alarm}
      - {state: prealarm, when: prealarm_flag}
      - {state: fault, when: trouble}
    otherwise: normal
"""
)

STATUS_WORD = """\
# A panel gateway's status word, one register per detector.
id: status-word
protocol: modbus
kind: smoke_detector
points:
  - name: status
    function: input_register
    address: 0
    type: u16
    enum: {0: normal, 1: pre_alarm, 2: fire, 3: trouble}
"""

HYDRANT = """\
# A 4-20 mA pressure transmitter on an analog input channel, in microamps.
id: new-hydrant
protocol: modbus
kind: hydrant_pressure
points:
  - name: loop_current
    function: input_register
    address: 0
    scale: 0.001
    unit: mA
  - name: pressure
    function: input_register
    address: 0
    scale: 0.001
    current_loop: {low: 0.0, high: 1.6}
    unit: MPa
"""

CAMERA = """\
# An NVR's camera document.
id: new-camera
protocol: mqtt
kind: camera
points:
  - {name: online, path: connection, type: str}
  - {name: recording, path: recording, type: bool}
  - {name: fps, path: fps, type: float, unit: fps}
  - {name: retention_days, path: retention_days, type: int, unit: d}
  - {name: tamper, path: tamper, type: bool}
  - {name: video_loss, path: video_loss, type: bool}
"""


def write_site(folder: Path, profile: str, devices: int = 1, rules: str = "") -> Path:
    """A one-zone site whose `devices` devices all use `profile` (YAML text)."""
    header = dict(re.findall(r"^(id|kind|protocol): (\S+)$", profile, re.M))
    (folder / f"{header['id']}.yaml").write_text(profile)
    mqtt = header["protocol"] == "mqtt"
    lines = [
        f"  - {{id: DEV-{n + 1}, kind: {header['kind']}, zone: ward, profile: {header['id']}, "
        f"source: {_source(mqtt, n)}}}"
        for n in range(devices)
    ]
    site = folder / "site.yaml"
    site.write_text(
        "site: {id: test, name: Test ward}\n"
        "buildings: [{id: main, name: Main}]\n"
        "zones: [{id: ward, building: main, name: Ward}]\n"
        f"profiles: [{header['id']}.yaml]\n"
        "modbus: {endpoints: [{id: io, host: 127.0.0.1, port: 15020}]}\n"
        "mqtt: {host: 127.0.0.1, port: 1883}\n"
        f"{rules}"
        "devices:\n" + "\n".join(lines) + "\n"
    )
    return site


def _source(mqtt: bool, n: int) -> str:
    return f"{{topic: test/dev-{n + 1}}}" if mqtt else f"{{endpoint: io, address: {10 * n}}}"


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"test setup: {needle!r} not found")


def errors_of(site: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_site(site)
    return str(caught.value).splitlines()


def edited(profile: str, old: str, new: str) -> str:
    assert old in profile, f"test setup: {old!r} not in the profile"
    return profile.replace(old, new, 1)


MISTAKES = [
    pytest.param(
        NEW_PANEL,
        "points:",
        "points: no point 'status', which the rules "
        f"{DETECTOR_RULES} read for DEV-1: add it (a derived point can make it from flags), "
        "or switch those rules off under rules: with enabled: false",
        id="detector without status",
    ),
    pytest.param(
        edited(HYDRANT, "name: pressure\n", "name: pressure_mpa\n"),
        "points:",
        f"points: no point 'pressure', which the rules {HYDRANT_RULES} read for DEV-1: add "
        "it (a derived point can make it from flags), or switch those rules off under rules: "
        "with enabled: false",
        id="hydrant without pressure",
    ),
    pytest.param(
        NEW_PANEL_DERIVED,
        "state: prealarm",
        "derived[0].first_of[1].state: 'prealarm' is not a state the smoke_detector rules "
        "know for 'status' (did you mean 'pre_alarm'?); they know fire, pre_alarm, fault, "
        "isolated, maintenance and normal",
        id="misspelt derived state",
    ),
    pytest.param(
        edited(
            edited(NEW_PANEL_DERIVED, "state: prealarm", "state: pre_alarm"),
            "otherwise: normal",
            "otherwise: ok",
        ),
        "otherwise: ok",
        "derived[0].otherwise: 'ok' is not a state the smoke_detector rules know for 'status'; "
        "they know fire, pre_alarm, fault, isolated, maintenance and normal",
        id="unknown otherwise state",
    ),
    pytest.param(
        STATUS_WORD,
        "enum:",
        "points[0].enum[3]: 'trouble' is not a state the smoke_detector rules know for "
        "'status'; they know fire, pre_alarm, fault, isolated, maintenance and normal",
        id="enum state no rule knows",
    ),
    pytest.param(
        edited(STATUS_WORD, "    enum: {0: normal, 1: pre_alarm, 2: fire, 3: trouble}\n", ""),
        "type: u16",
        f"points[0].type: the rules {DETECTOR_RULES} read 'status' as a state name, but it is "
        "a number (u16): give it an enum table, or derive it from flags",
        id="status as a bare number",
    ),
    pytest.param(
        edited(HYDRANT, "    current_loop: {low: 0.0, high: 1.6}\n    unit: MPa", "    unit: kPa"),
        "unit: kPa",
        "points[1].unit: the rules pressure_low, pressure_high and pressure_falling take "
        "'pressure' in MPa, not kPa: scale it (kPa x 0.001 = MPa) and write unit: MPa",
        id="pressure in kPa",
    ),
    pytest.param(
        edited(HYDRANT, "    scale: 0.001\n    current_loop: {low: 0.0, high: 1.6}\n", ""),
        "name: pressure",
        "points[1].scale: 'pressure' is a whole number (u16 without scale), but the rules "
        "pressure_low, pressure_high and pressure_falling need fractions (pressure_low's limit "
        "is 0.1 MPa): give it a scale",
        id="pressure unscaled",
    ),
    pytest.param(
        edited(
            HYDRANT,
            "    current_loop: {low: 0.0, high: 1.6}\n",
            "    type: bool\n    bits: [0, 0]\n",
        ),
        "type: bool",
        "points[1].type: the rules pressure_low, pressure_high and pressure_falling read "
        "'pressure' as a number, but it is true/false (bool)",
        id="pressure as a bool",
    ),
    pytest.param(
        CAMERA,
        "name: online",
        "points[0].type: the rule camera_offline reads 'online' as true/false, but it is "
        "text (str): map its words to true and false with an enum table",
        id="camera online as text",
    ),
    pytest.param(
        edited(
            "# A zigbee2mqtt smoke alarm.\nid: z-smoke\nprotocol: mqtt\nkind: smoke_detector\n"
            "points:\n  - {name: status, path: smoke_state, type: str,\n"
            "     enum: {alarm: fire, normal: normal}}\n",
            "normal: normal",
            "normal: normal, detecting: prealarm",
        ),
        "detecting",
        "points[0].enum.detecting: 'prealarm' is not a state the smoke_detector rules know "
        "for 'status' (did you mean 'pre_alarm'?); they know fire, pre_alarm, fault, isolated, "
        "maintenance and normal",
        id="mqtt enum state misspelt",
    ),
]


@pytest.mark.parametrize(("profile", "needle", "expected"), MISTAKES)
def test_a_profile_that_cannot_feed_its_rules_is_refused(
    tmp_path: Path, profile: str, needle: str, expected: str
) -> None:
    site = write_site(tmp_path, profile)
    file = re.search(r"^id: (\S+)$", profile, re.M).group(1)  # type: ignore[union-attr]
    assert errors_of(site) == [f"{file}.yaml:{line_of(profile, needle)}: {expected}"]


def test_firegw_check_refuses_it_with_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(write_site(tmp_path, NEW_PANEL))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("new-panel.yaml:5: points: no point 'status'")


def test_many_devices_are_named_once_by_the_first_few(tmp_path: Path) -> None:
    profile = edited(HYDRANT, "name: pressure\n", "name: pressure_mpa\n")
    [error] = errors_of(write_site(tmp_path, profile, devices=5))
    assert "read for DEV-1, DEV-2, DEV-3 and 2 more devices:" in error


ALL_HYDRANT_RULES_OFF = (
    "rules:\n  kinds:\n    hydrant_pressure:\n"
    "      pressure_low: {enabled: false}\n      pressure_high: {enabled: false}\n"
    "      pressure_falling: {enabled: false}\n      signal_invalid: {enabled: false}\n"
)


def test_rules_switched_off_on_purpose_need_no_point(tmp_path: Path) -> None:
    profile = edited(HYDRANT, "name: pressure\n", "name: pressure_mpa\n")
    site = load_site(write_site(tmp_path, profile, rules=ALL_HYDRANT_RULES_OFF))
    assert site.warnings == ()


def test_a_rule_left_on_still_needs_its_point(tmp_path: Path) -> None:
    profile = edited(HYDRANT, "name: pressure\n", "name: pressure_mpa\n")
    rules = ALL_HYDRANT_RULES_OFF.replace("      signal_invalid: {enabled: false}\n", "")
    [error] = errors_of(write_site(tmp_path, profile, rules=rules))
    assert "no point 'pressure', which the rule signal_invalid reads for DEV-1:" in error


def test_a_rule_switched_off_for_one_device_is_still_needed_by_the_others(
    tmp_path: Path,
) -> None:
    profile = edited(HYDRANT, "name: pressure\n", "name: pressure_mpa\n")
    rules = ALL_HYDRANT_RULES_OFF.replace(
        "  kinds:\n    hydrant_pressure:", "  devices:\n    DEV-1:"
    )
    [error] = errors_of(write_site(tmp_path, profile, devices=2, rules=rules))
    assert f"no point 'pressure', which the rules {HYDRANT_RULES} read for DEV-2:" in error


@pytest.mark.parametrize(
    ("high", "looks_like"),
    [
        ("1600", "kPa (1600 kPa = 1.6 MPa)"),
        ("16", "bar (16 bar = 1.6 MPa)"),
    ],
)
def test_a_transmitter_range_in_kpa_or_bar_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], high: str, looks_like: str
) -> None:
    profile = edited(HYDRANT, "high: 1.6}", f"high: {high}}}")
    site_file = write_site(tmp_path, profile)
    line = line_of(profile, "current_loop")
    expected = (
        f"new-hydrant.yaml:{line}: warning: points[1].current_loop.high: a transmitter range "
        f"of 0-{high} MPa looks like {looks_like}; the rules' limits for 'pressure' are MPa "
        "(pressure_low 0.1, pressure_high 1)"
    )
    assert [str(warning) for warning in load_site(site_file).warnings] == [expected]
    assert main(["check", str(site_file)]) == 0
    captured = capsys.readouterr()
    assert captured.err == expected + "\n"
    assert captured.out.startswith(f"{site_file}: OK")


def test_a_plausible_transmitter_range_gives_no_warning(tmp_path: Path) -> None:
    assert load_site(write_site(tmp_path, HYDRANT)).warnings == ()


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        ("type: bool, bits: [0, 16]", "bits [0, 16] do not fit one 16-bit register (bits 0 to 15)"),
        ("type: u32, bits: [0, 40]", "bits [0, 40] do not fit 2 registers of a u32 (bits 0 to 31)"),
        ("type: bool, bits: [5, 3]", "bits [5, 3]: write the low bit first ([3, 5])"),
    ],
)
def test_bits_beyond_the_register_say_it_is_the_register_they_do_not_fit(
    tmp_path: Path, bits: str, expected: str
) -> None:
    """Issue 12: it said "bits [0, 16] do not fit a bool" when the register is what they
    do not fit."""
    profile = edited(NEW_PANEL, "type: bool, bits: [1, 1]", bits)
    [error] = errors_of(write_site(tmp_path, profile))
    assert error == f"new-panel.yaml:{line_of(profile, bits)}: points[1]: {expected}"


def test_detectors_whose_fire_rule_is_switched_off_are_a_warning(tmp_path: Path) -> None:
    """Before: `fire: {enabled: false}` left detectors without fire detection in silence."""
    rules = "rules:\n  devices:\n    DEV-2:\n      fire: {enabled: false}\n"
    panel = STATUS_WORD.replace("3: trouble", "3: fault")
    site_file = write_site(tmp_path, panel, devices=3, rules=rules)
    [warning] = [str(w) for w in load_site(site_file).warnings]
    assert warning == (
        "site.yaml:7: warning: rules: no fire rule is on for DEV-2: they report no fire at "
        "all; to work on a detector, take it out of service instead (it ends by itself and "
        "shows on the feed)"
    )
    everyone = write_site(tmp_path, panel, devices=3, rules="")
    assert load_site(everyone).warnings == ()
