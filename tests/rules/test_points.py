"""What the default rules read from each device kind: the site check compares it with profiles."""

from __future__ import annotations

from rules import DeviceInfo, DeviceKind, PointRead, Reads, RuleSet, known_states, point_reads

HYDRANT = DeviceInfo("HP-1", DeviceKind.HYDRANT_PRESSURE, "zone-a", "main")


def test_the_hydrant_rules_read_pressure_as_a_number_in_mpa() -> None:
    assert point_reads(RuleSet().device_rules(HYDRANT)) == [
        PointRead("pressure_low", "pressure", Reads.NUMBER, "MPa", "limit is 0.1 MPa", 0.1),
        PointRead("pressure_high", "pressure", Reads.NUMBER, "MPa", "deadband is 0.02 MPa", 1.0),
        PointRead("pressure_falling", "pressure", Reads.NUMBER, "MPa", "rate is 0.05 MPa/min"),
        PointRead("signal_invalid", "pressure", Reads.ANY),
    ]


def test_a_rule_switched_off_reads_nothing() -> None:
    rules = RuleSet.model_validate({"devices": {"HP-1": {"pressure_low": {"enabled": False}}}})
    names = [read.rule for read in point_reads(rules.device_rules(HYDRANT))]
    assert names == ["pressure_high", "pressure_falling", "signal_invalid"]


def test_camera_flags_and_numbers() -> None:
    camera = DeviceInfo("CAM-1", DeviceKind.CAMERA, "zone-a", "main")
    reads = {
        read.rule: (read.point, read.reads) for read in point_reads(RuleSet().device_rules(camera))
    }
    assert reads == {
        "camera_offline": ("online", Reads.FLAG),
        "camera_not_recording": ("recording", Reads.FLAG),
        "camera_video_loss": ("video_loss", Reads.FLAG),
        "camera_tamper": ("tamper", Reads.FLAG),
        "retention_low": ("retention_days", Reads.NUMBER),
        "fps_low": ("fps", Reads.NUMBER),
    }


def test_the_detector_states_the_rules_know_include_normal_and_switched_off_rules() -> None:
    rules = RuleSet.model_validate({"kinds": {"smoke_detector": {"pre_alarm": {"enabled": False}}}})
    assert known_states(rules.rules, DeviceKind.SMOKE_DETECTOR, "status") == (
        "fire",
        "pre_alarm",
        "fault",
        "isolated",
        "maintenance",
        "normal",
    )
