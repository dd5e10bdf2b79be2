"""The default rule table (rules/README.md): one entry per condition and device kind.

Numbers and their sources (see reference/domain-facts.md):
- detector fire at once and latched: a fire alarm stays until a person resets the panel;
- two detectors of one zone within 60 s: GB 50116-2013 4.1.6 ("AND" of two independent detectors);
- trouble on-delay 10 s: keeps fleeting faults off the feed, well inside GB 50166's 100 s;
- hydrant 0.10 MPa static minimum: GB 50974-2014 5.2.2 for class-I high-rise public buildings,
  with a 0.02 MPa deadband (about 2 % of a 0-1.6 MPa span) on the way in and out, and a 30 s
  on-delay;
- hydrant pressure falling faster than 0.05 MPa/min over 60 s, for the same 30 s on-delay as the
  limits (pump starts and valve operations make dips of a few seconds every day), and a
  0.02 MPa/min deadband so that a fall near the rate raises once;
- NAMUR NE 43: a loop current outside 3.6-21 mA is a sensor or wiring fault, not a pressure;
- camera retention 90 days (the customer's requirement for key sites), frame rate 25 fps;
- the gateway's own troubles: its history not reaching the database, and
  its outbox nearly full. Their limits are the site's `outbox:` settings; the gateway reports
  each condition as a flag (see gateway/health/delivery.py), so the rules only raise and clear;
- and its storage and its identity (gateway/health/troubles.py): a store file found damaged
  or lost and replaced (a flag false for one report: the alarm returns at once and waits for
  a person's acknowledgement), a full disk, a disk that fails otherwise, and another gateway
  publishing with the same site id;
- and its own pace (gateway/health/keeping_up.py): an event loop that stays behind for the
  trouble on-delay of 10 s, so that a brief stall at a start raises nothing; while behind, the
  devices are not counted lost for the polls it could not make: one alarm, not one per device;
- and its uplink to the alarm receiving centre (gateway/uplink): a message the receiver has not
  acknowledged for `uplink.down_after` (default 60 s), or refuses. All at once, without
  on-delay: the gateway decides.
"""

from __future__ import annotations

from functools import cache

from core import Quality
from rules.model import AlarmClass, DeviceKind, Priority
from rules.specs import (
    LINK,
    AnyRule,
    BlindSpotRule,
    CoincidenceRule,
    Direction,
    RateRule,
    StateRule,
    SupervisionRule,
    ThresholdRule,
    Trend,
    ValidityRule,
)

_DETECTOR = DeviceKind.SMOKE_DETECTOR
_HYDRANT = DeviceKind.HYDRANT_PRESSURE
_CAMERA = DeviceKind.CAMERA


@cache
def default_table() -> tuple[AnyRule, ...]:
    """Every default rule, detectors first; the same objects on every call (they are frozen)."""
    return _detector_rules() + _hydrant_rules() + _camera_rules() + _link_rules() + _gateway_rules()


def _detector_rules() -> tuple[AnyRule, ...]:
    fire, trouble = AlarmClass.FIRE, AlarmClass.TROUBLE
    return (
        StateRule(
            name="fire",
            kind=_DETECTOR,
            point="status",
            states=("fire",),
            text="in fire",
            alarm_class=fire,
            priority=Priority.CRITICAL,
            latched=True,
        ),
        CoincidenceRule(
            name="confirmed_fire",
            kind=_DETECTOR,
            source="fire",
            count=2,
            window=60.0,
            text="confirmed fire",
            alarm_class=fire,
            priority=Priority.CRITICAL,
            latched=True,
        ),
        StateRule(
            name="pre_alarm",
            kind=_DETECTOR,
            point="status",
            states=("pre_alarm",),
            text="in pre-alarm (fire warning)",
            alarm_class=fire,
            priority=Priority.HIGH,
        ),
        StateRule(
            name="detector_fault",
            kind=_DETECTOR,
            point="status",
            states=("fault",),
            text="reports a fault",
            alarm_class=trouble,
            priority=Priority.MEDIUM,
            on_delay=10.0,
        ),
        StateRule(
            name="detector_isolated",
            kind=_DETECTOR,
            point="status",
            states=("isolated",),
            text="is isolated (disabled at the panel)",
            alarm_class=trouble,
            priority=Priority.MEDIUM,
            on_delay=10.0,
        ),
        StateRule(
            name="detector_maintenance",
            kind=_DETECTOR,
            point="status",
            states=("maintenance",),
            text="needs maintenance (dirty chamber)",
            alarm_class=AlarmClass.MAINTENANCE,
            priority=Priority.LOW,
            on_delay=10.0,
        ),
        SupervisionRule(
            name="comms_lost",
            kind=_DETECTOR,
            text="communication lost",
            alarm_class=trouble,
            priority=Priority.HIGH,
            held_by=(LINK,),
        ),
    )


def _hydrant_rules() -> tuple[AnyRule, ...]:
    supervisory = AlarmClass.SUPERVISORY
    return (
        ThresholdRule(
            name="pressure_low",
            kind=_HYDRANT,
            point="pressure",
            direction=Direction.BELOW,
            limit=0.10,
            deadband=0.02,
            unit="MPa",
            text="pressure below minimum",
            alarm_class=supervisory,
            priority=Priority.HIGH,
            on_delay=30.0,
        ),
        ThresholdRule(
            name="pressure_high",
            kind=_HYDRANT,
            point="pressure",
            direction=Direction.ABOVE,
            limit=1.0,
            deadband=0.02,
            unit="MPa",
            text="pressure above maximum",
            alarm_class=supervisory,
            priority=Priority.MEDIUM,
            on_delay=30.0,
        ),
        RateRule(
            name="pressure_falling",
            kind=_HYDRANT,
            point="pressure",
            trend=Trend.FALLING,
            rate=0.05,
            deadband=0.02,
            window=60.0,
            unit="MPa",
            text="pressure falling fast (hydrant in use or burst pipe)",
            alarm_class=supervisory,
            priority=Priority.HIGH,
            on_delay=30.0,
        ),
        ValidityRule(
            name="signal_invalid",
            kind=_HYDRANT,
            point="pressure",
            qualities=(Quality.OUT_OF_RANGE,),
            text="4-20 mA signal out of range (NAMUR NE 43 sensor or wiring fault)",
            alarm_class=AlarmClass.TROUBLE,
            priority=Priority.MEDIUM,
            on_delay=10.0,
        ),
        SupervisionRule(
            name="comms_lost",
            kind=_HYDRANT,
            text="communication lost",
            alarm_class=AlarmClass.TROUBLE,
            priority=Priority.MEDIUM,
            held_by=(LINK,),
        ),
    )


def _camera_rules() -> tuple[AnyRule, ...]:
    trouble, high = AlarmClass.TROUBLE, Priority.HIGH
    return (
        StateRule(
            name="camera_offline",
            kind=_CAMERA,
            point="online",
            states=(False,),
            text="offline",
            alarm_class=trouble,
            priority=high,
            on_delay=10.0,
        ),
        StateRule(
            name="camera_not_recording",
            kind=_CAMERA,
            point="recording",
            states=(False,),
            text="not recording",
            alarm_class=trouble,
            priority=high,
            on_delay=10.0,
            held_by=("camera_offline",),
        ),
        StateRule(
            name="camera_video_loss",
            kind=_CAMERA,
            point="video_loss",
            states=(True,),
            text="has lost its video signal",
            alarm_class=trouble,
            priority=high,
            on_delay=10.0,
            held_by=("camera_offline",),
        ),
        StateRule(
            name="camera_tamper",
            kind=_CAMERA,
            point="tamper",
            states=(True,),
            text="tampered with (scene changed, covered or blurred)",
            alarm_class=AlarmClass.SECURITY,
            priority=high,
            on_delay=10.0,
        ),
        ThresholdRule(
            name="retention_low",
            kind=_CAMERA,
            point="retention_days",
            direction=Direction.BELOW,
            limit=90.0,
            unit="days",
            text="keeps recordings for less than required",
            alarm_class=AlarmClass.MAINTENANCE,
            priority=Priority.LOW,
            on_delay=3600.0,
        ),
        ThresholdRule(
            name="fps_low",
            kind=_CAMERA,
            point="fps",
            direction=Direction.BELOW,
            limit=0.5,
            nominal=25.0,
            unit="fps",
            text="frame rate below half of nominal",
            alarm_class=trouble,
            priority=Priority.MEDIUM,
            on_delay=60.0,
            held_by=("camera_offline",),
        ),
        SupervisionRule(
            name="comms_lost",
            kind=_CAMERA,
            text="communication lost",
            alarm_class=trouble,
            priority=Priority.MEDIUM,
            held_by=(LINK, "camera_offline"),
        ),
        BlindSpotRule(
            name="blind_spot",
            kind=_CAMERA,
            text="blind spot",
            causes=("comms_lost", "camera_offline", "camera_not_recording", "camera_video_loss"),
            alarm_class=AlarmClass.SECURITY,
            priority=high,
            held_by=(LINK,),
        ),
    )


def _link_rules() -> tuple[AnyRule, ...]:
    """A connection many devices depend on: one alarm for it, their losses its consequences."""
    return (
        StateRule(
            name="link_lost",
            kind=DeviceKind.LINK,
            point="up",
            states=(False,),
            text="lost: the devices behind it cannot be read",
            alarm_class=AlarmClass.TROUBLE,
            priority=Priority.HIGH,
            on_delay=1.0,
        ),
    )


def _gateway_rules() -> tuple[AnyRule, ...]:
    trouble, high, gateway = AlarmClass.TROUBLE, Priority.HIGH, DeviceKind.GATEWAY
    return (
        StateRule(
            name="history_not_stored",
            kind=gateway,
            point="history_stored",
            states=(False,),
            text="history not reaching the database",
            alarm_class=trouble,
            priority=high,
        ),
        StateRule(
            name="outbox_nearly_full",
            kind=gateway,
            point="outbox_nearly_full",
            states=(True,),
            text="outbox nearly full: at its cap the oldest readings are dropped",
            alarm_class=trouble,
            priority=high,
        ),
        StateRule(
            name="outbox_replaced",
            kind=gateway,
            point="outbox_intact",
            states=(False,),
            text=(
                "outbox file damaged or lost: replaced by a fresh one, the readings waiting "
                "in it are lost (the gateway log names the copy kept)"
            ),
            alarm_class=trouble,
            priority=high,
        ),
        StateRule(
            name="alarm_store_replaced",
            kind=gateway,
            point="alarm_store_intact",
            states=(False,),
            text=(
                "alarm store damaged or lost: replaced by a fresh one, its alarms taken back "
                "from the broker, its event history lost (the gateway log names the copy kept)"
            ),
            alarm_class=trouble,
            priority=high,
        ),
        StateRule(
            name="disk_full",
            kind=gateway,
            point="disk_full",
            states=(True,),
            text=(
                "disk full: readings are dropped (counted), alarm events wait in memory; "
                "alarms are still raised and published"
            ),
            alarm_class=trouble,
            priority=high,
        ),
        StateRule(
            name="storage_failing",
            kind=gateway,
            point="storage_ok",
            states=(False,),
            text=(
                "cannot write to its disk: readings are dropped (counted), alarm events wait "
                "in memory; alarms are still raised and published"
            ),
            alarm_class=trouble,
            priority=high,
        ),
        StateRule(
            name="duplicate_gateway",
            kind=gateway,
            point="site_id_unique",
            states=(False,),
            text=(
                "shares its site id or MQTT client id with another gateway on the broker: "
                "give each building its own site id"
            ),
            alarm_class=trouble,
            priority=high,
        ),
        StateRule(
            name="gateway_overloaded",
            kind=gateway,
            point="keeping_up",
            states=(False,),
            text=(
                "overloaded: its polls start late; devices are not counted lost for the polls "
                "it could not make"
            ),
            alarm_class=trouble,
            priority=high,
            on_delay=10.0,
        ),
        StateRule(
            name="uplink_down",
            kind=gateway,
            point="uplink_ok",
            states=(False,),
            text=(
                "cannot reach the alarm receiving centre: a message waits unacknowledged; "
                "it is sent, in order, as soon as the receiver answers"
            ),
            alarm_class=trouble,
            priority=high,
        ),
    )
