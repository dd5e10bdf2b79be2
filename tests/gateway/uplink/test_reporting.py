"""What the centre is told of the rules engine's events: raised, restored and reset once each,
nothing of what is the building's own business, fire always; numbers and codes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core import Reading
from gateway.alarms.devices import device_infos
from gateway.config import Site, Transition, load_site
from gateway.uplink.messages import Message
from gateway.uplink.reporting import Reporter, Told
from rules import AlarmEvent, RuleEngine
from rules.clock import FakeClock
from tests.gateway.uplink.sites import uplink_clinic


class Played:
    """The clinic's rules engine on the fake clock, its events decided on as the uplink does."""

    def __init__(self, site: Site, supervision: float = 1e6) -> None:
        self.clock = FakeClock()
        # The devices say nothing unless a test says so: a long window keeps them all present.
        devices = [replace(info, supervision=supervision) for info in device_infos(site)]
        self.engine = RuleEngine(devices, site.config.rules, self.clock)
        assert site.config.uplink is not None
        self.reporter = Reporter(site, site.config.uplink)
        self.told: dict[str, Told] = {}
        self.sent: list[Message] = []

    def take(self, events: list[AlarmEvent]) -> list[Message]:
        sent = []
        for event in events:
            message, after = self.reporter.decide(event, self.told.get(event.alarm_id))
            if after is None:
                self.told.pop(event.alarm_id, None)
            else:
                self.told[event.alarm_id] = after
            if message is not None:
                sent.append(message)
        self.sent += sent
        return sent

    def readings(
        self, device: str, point: str, value: object, seconds: float = 1.0
    ) -> list[Message]:
        sent = self.take(self.engine.on_readings([Reading(device, point, value)]))  # type: ignore[arg-type]
        for _ in range(int(seconds * 2)):
            self.clock.advance(0.5)
            sent += self.take(self.engine.tick())
        return sent

    def command(self, action: str, alarm: str, **args: object) -> list[Message]:
        result = self.engine.command(action, alarm, "li.na", **args)
        assert result.ok, result.reason
        return self.take(result.events)


def codes(messages: list[Message]) -> list[tuple[str, str, str, int, int]]:
    return [(m.alarm_id, m.sia, m.contact_id, m.zone, m.point) for m in messages]


@pytest.fixture
def played(tmp_path: Path) -> Played:
    return Played(load_site(uplink_clinic(tmp_path, 12128), storage_and_secrets=False))


def test_a_fire_is_raised_restored_and_reset_once_each(played: Played) -> None:
    raised = played.readings("SD-1F-01", "status", "fire")
    assert codes(raised) == [("fire:SD-1F-01", "FA", "E111", 1, 1)]
    assert raised[0].transition is Transition.RAISED
    assert raised[0].rank == 0
    assert played.command("acknowledge", "fire:SD-1F-01") == []
    assert played.command("on_site", "fire:SD-1F-01") == []
    assert played.readings("SD-1F-01", "status", "fire") == []  # still the same fire
    restored = played.readings("SD-1F-01", "status", "normal")
    assert codes(restored) == [("fire:SD-1F-01", "FH", "R111", 1, 1)]
    reset = played.command("reset", "fire:SD-1F-01")
    assert codes(reset) == [("fire:SD-1F-01", "FC", "E406", 1, 1)]
    assert played.told == {}


def test_two_detectors_of_a_zone_are_a_confirmed_fire_of_the_zone(played: Played) -> None:
    played.readings("SD-1F-01", "status", "fire")
    sent = played.readings("SD-1F-02", "status", "fire")
    assert sorted(codes(sent)) == [
        ("confirmed_fire:main-1f-er", "FA", "E110", 1, 0),
        ("fire:SD-1F-02", "FA", "E111", 1, 2),
    ]


def test_supervisory_and_trouble_raise_and_restore(played: Played) -> None:
    assert codes(played.readings("HP-1F-01", "pressure", 0.05, seconds=31)) == [
        ("pressure_low:HP-1F-01", "FS", "E201", 1, 6)
    ]
    assert codes(played.readings("HP-1F-01", "pressure", 0.40, seconds=31)) == [
        ("pressure_low:HP-1F-01", "FV", "R201", 1, 6)
    ]
    assert codes(played.readings("SD-2F-01", "status", "fault", seconds=11)) == [
        ("detector_fault:SD-2F-01", "FT", "E373", 2, 3)
    ]


def test_a_pre_alarm_and_the_cameras_stay_in_the_building(played: Played) -> None:
    assert played.readings("SD-1F-01", "status", "pre_alarm") == []
    assert played.readings("CAM-1F-01", "online", False, seconds=11) == []
    assert played.told == {}


def test_the_losses_behind_a_lost_link_are_its_consequences_not_sent(tmp_path: Path) -> None:
    site = load_site(uplink_clinic(tmp_path, 12128), storage_and_secrets=False)
    played = Played(site, supervision=5.0)
    played.readings("main-io", "up", False, seconds=0)
    sent = played.readings("main-panel", "up", False, seconds=2)
    assert ("link_lost:main-panel", "ET", "E330", 0, 1) in codes(sent)
    assert ("link_lost:main-io", "ET", "E330", 0, 2) in codes(sent)
    lost = played.readings("firegw-demo", "disk_full", False, seconds=10)  # time passes
    assert [m.alarm_id for m in lost] == []  # the detectors' and hydrants' losses are held
    assert any(a.rule == "comms_lost" and a.held_by for a in played.engine.alarms.values())
    back = played.readings("main-panel", "up", True, seconds=2)
    assert ("link_lost:main-panel", "ER", "R330", 0, 1) in codes(back)


def test_a_device_taken_out_of_service_is_a_bypass_and_its_fire_still_goes(played: Played) -> None:
    bypass = played.command("out_of_service", "SD-2F-02", duration="2h")
    assert codes(bypass) == [("out_of_service:SD-2F-02", "FB", "E571", 2, 4)]
    assert played.readings("SD-2F-02", "status", "fault", seconds=11) == []  # held back
    fire = played.readings("SD-2F-02", "status", "fire")
    assert codes(fire) == [("fire:SD-2F-02", "FA", "E111", 2, 4)]
    back = played.command("in_service", "SD-2F-02")
    assert ("out_of_service:SD-2F-02", "FU", "R571", 2, 4) in codes(back)


def test_the_gateways_own_troubles_have_their_points(played: Played) -> None:
    sent = played.readings("firegw-demo", "uplink_ok", False)
    assert codes(sent) == [("uplink_down:firegw-demo", "YC", "E354", 0, 908)]
    sent = played.readings("firegw-demo", "disk_full", True)
    assert codes(sent) == [("disk_full:firegw-demo", "YX", "E300", 0, 905)]


def test_a_site_changes_codes_numbers_and_kinds(tmp_path: Path) -> None:
    extra = (
        "  zones: {main-1f-er: 7}\n"
        "  points: {SD-1F-01: 101, main-panel: 50}\n"
        "  kinds: [smoke_detector, camera, link]\n"
        "  codes:\n"
        "    pre_alarm: {raised: [FS, E118], restored: [FV, R118]}\n"
        "    fire: {raised: [FA, E110]}\n"
        "    detector_fault: off\n"
    )
    played = Played(load_site(uplink_clinic(tmp_path, 12128, extra), storage_and_secrets=False))
    assert codes(played.readings("SD-1F-01", "status", "pre_alarm")) == [
        ("pre_alarm:SD-1F-01", "FS", "E118", 7, 101)
    ]
    assert codes(played.readings("SD-1F-02", "status", "fire")) == [
        ("fire:SD-1F-02", "FA", "E110", 7, 1)
    ]
    assert played.readings("SD-1F-02", "status", "normal") == []  # no restore code given
    assert played.readings("SD-2F-01", "status", "fault", seconds=11) == []
    camera = played.readings("CAM-1F-01", "online", False, seconds=11)
    assert sorted((m.alarm_id, m.sia) for m in camera) == [
        ("blind_spot:main-1f-er", "TA"),  # a camera's rule of class security
        ("camera_offline:CAM-1F-01", "UT"),
    ]
    assert codes(played.readings("main-panel", "up", False, seconds=2)) == [
        ("link_lost:main-panel", "ET", "E330", 0, 50)
    ]
    assert played.readings("HP-1F-01", "pressure", 0.05, seconds=31) == []  # not a kind sent


def test_a_centre_that_knows_nothing_hears_of_the_alarms_there_are(played: Played) -> None:
    played.readings("SD-1F-01", "status", "fire")
    played.readings("SD-2F-01", "status", "fire")
    played.readings("SD-2F-01", "status", "normal")  # latched: still to be reset
    played.readings("SD-B1-01", "status", "pre_alarm")
    alarms = played.engine.alarms.values()
    snapshot = [told for alarm in alarms for told in played.reporter.snapshot(alarm)]
    assert sorted((m.alarm_id, m.sia, told) for m, told in snapshot) == [
        ("fire:SD-1F-01", "FA", Told.ACTIVE),
        ("fire:SD-2F-01", "FA", Told.RESTORED),
        ("fire:SD-2F-01", "FH", Told.RESTORED),
    ]
