"""What the report must say about the synthetic period of `scenario.py`, worked out by hand
from its script (see that module's docstring), and the check of a report's figures."""

from __future__ import annotations

from collections import Counter

import pytest

from firegw.report.figures import Figures
from firegw.report.stats import Spread
from gateway.config import HazardClass
from rules import Priority

FIRE, FACILITY, SECURITY = HazardClass.FIRE, HazardClass.FACILITY, HazardClass.SECURITY
CRITICAL, HIGH, MEDIUM, LOW = Priority.CRITICAL, Priority.HIGH, Priority.MEDIUM, Priority.LOW


def counts(fire: int, facility: int, security: int) -> dict[HazardClass, int]:
    return {FIRE: fire, FACILITY: facility, SECURITY: security}


HAZARDS_BY_MONTH = {"2026-02": counts(2, 4, 2), "2026-03": counts(4, 1, 1)}
"""February: SD-1F-01 fire, SD-2F-01 pre-alarm; HP-1F-01 high, HP-2F-01 low, CAM-2F-01 and
CAM-B1-01 offline; the blind spots of main-2f-ward and main-b1-plant. March: the flickering
pre-alarm, two detector fires and the confirmed fire; the detector fault; the tampering."""
HAZARDS_BY_ZONE = {
    "main-1f-er": counts(1, 1, 1),
    "main-2f-ward": counts(5, 2, 1),
    "main-b1-plant": counts(0, 2, 1),
}
OUTCOMES = {
    FIRE: Counter(rectified=4, self_cleared=2),
    FACILITY: Counter(rectified=3, self_cleared=1, open=1),
    SECURITY: Counter(rectified=1, self_cleared=2),
}


def seconds(count: int, reached: int, within: int, *times: float) -> Spread:
    """The spread of `times` (the ones reached), median and p90 interpolated by hand."""
    median, p90, worst = times if times else (None, None, None)
    return Spread(count, reached, within, median, p90, worst)


RESPONSE = {
    # fire:SD-1F-01, fire:SD-2F-01, fire:SD-2F-02, confirmed_fire: acknowledged 38, 90, 70,
    # 70 s; on site 150, 240 s and never twice; contained 200, 600, 580, 580 s.
    (FIRE, CRITICAL): {
        "acknowledge": seconds(4, 4, 1, 70.0, 84.0, 90.0),
        "on_site": seconds(4, 2, 1, 195.0, 231.0, 240.0),
        "contain": seconds(4, 4, 1, 580.0, 594.0, 600.0),
    },
    # the two pre-alarms: acknowledged 90 and 295 s, nobody on site, contained 20 and 10 s.
    (FIRE, HIGH): {
        "acknowledge": seconds(2, 2, 0, 192.5, 274.5, 295.0),
        "on_site": seconds(2, 0, 0),
        "contain": seconds(2, 2, 2, 15.0, 19.0, 20.0),
    },
    # pressure low, the two cameras offline: acknowledged 100, 50, 2400 s; on site 400 s
    # once; contained 500, 2700, 1800 s.
    (FACILITY, HIGH): {
        "acknowledge": seconds(3, 3, 1, 100.0, 1940.0, 2400.0),
        "on_site": seconds(3, 1, 0, 400.0, 400.0, 400.0),
        "contain": seconds(3, 3, 0, 1800.0, 2520.0, 2700.0),
    },
    # pressure high (never acknowledged, never contained), the detector fault (20 s, 300 s).
    (FACILITY, MEDIUM): {
        "acknowledge": seconds(2, 1, 1, 20.0, 20.0, 20.0),
        "on_site": seconds(2, 0, 0),
        "contain": seconds(2, 1, 1, 300.0, 300.0, 300.0),
    },
    # the two blind spots and the tampering: acknowledged 30, 2400, 3600 s; contained 2700,
    # 1800, 40 s.
    (SECURITY, HIGH): {
        "acknowledge": seconds(3, 3, 1, 2400.0, 3360.0, 3600.0),
        "on_site": seconds(3, 0, 0),
        "contain": seconds(3, 3, 1, 1800.0, 2520.0, 2700.0),
    },
}
WORST = [
    # (alarm, seconds late, at which step): a step never reached is late until the period
    # ends (2026-03-02 00:00); on site is due at 180 s, acknowledged at 60 s, contained at 300.
    ("pre_alarm:SD-2F-01", 140_220.0, "on_site"),
    ("blind_spot:main-2f-ward", 129_410.0, "on_site"),
    ("camera_offline:CAM-2F-01", 129_410.0, "on_site"),
    ("blind_spot:main-b1-plant", 86_820.0, "on_site"),
    ("camera_offline:CAM-B1-01", 86_820.0, "on_site"),
    ("camera_tamper:CAM-1F-01", 75_410.0, "on_site"),
    ("pre_alarm:SD-2F-02", 53_815.0, "on_site"),
    ("confirmed_fire:main-2f-ward", 35_800.0, "on_site"),
    ("fire:SD-2F-02", 35_800.0, "on_site"),
    ("fire:SD-2F-01", 300.0, "contain"),
]
ANSWERED = {"SD-B1-01": 2790 / 2880, "HP-B1-01": 2850 / 2880}
"""The devices that did not answer every minute; every other one did."""
PRESSURE = {
    "HP-1F-01": (120 / 2880, 2880),
    "HP-2F-01": (2870 / 2880, 2880),
    "HP-B1-01": (1.0, 2850),
}
RETENTION = {
    "CAM-1F-01": (95.0, 95.0, 90.0),
    "CAM-2F-01": (92.0, 92.0, 90.0),
    "CAM-B1-01": (80.0, 80.0, 90.0),
}
NOISIEST = [
    ("SD-2F-02", 13),
    ("SD-2F-01", 2),
    ("main-2f-ward", 2),
    ("CAM-1F-01", 1),
    ("CAM-2F-01", 1),
    ("CAM-B1-01", 1),
    ("HP-1F-01", 1),
    ("HP-2F-01", 1),
    ("SD-1F-01", 1),
    ("SD-B1-01", 1),
]


def check(figures: Figures) -> None:
    """Every figure of the report against the truth."""
    hazards = figures.hazards
    assert hazards.by_month == HAZARDS_BY_MONTH
    assert hazards.total == counts(6, 5, 3)
    assert hazards.by_building == {"main": counts(6, 5, 3)}
    assert hazards.by_zone == HAZARDS_BY_ZONE
    assert hazards.high_risk == counts(6, 3, 2)
    assert (hazards.glitches, hazards.consequences) == (1, 1)

    rect = figures.rectification
    assert rect.outcomes == OUTCOMES
    assert (rect.rate(FIRE), rect.rate(FACILITY), rect.rate(SECURITY)) == (1.0, 0.75, 1.0)
    assert rect.rate() == 8 / 9
    assert {who: c.count for who, c in rect.people.items()} == {"chen.wei": 3, "li.na": 5}
    # chen.wei: 500, 2700, 300 s; li.na: 600, 2700, 1200, 1180, 1180 s.
    assert rect.people["chen.wei"].median_minutes == pytest.approx(500 / 60)
    assert rect.people["li.na"].median_minutes == pytest.approx(1180 / 60)
    assert rect.glitches == Counter(self_cleared=1)

    response = figures.response
    assert response.limits == {"acknowledge": 60.0, "on_site": 180.0, "contain": 300.0}
    assert set(response.groups) == set(RESPONSE)
    for key, steps in RESPONSE.items():
        for step, expected in steps.items():
            got = response.groups[key][step]
            assert (got.count, got.reached, got.within) == (
                expected.count,
                expected.reached,
                expected.within,
            ), (key, step)
            assert (got.median, got.p90, got.worst) == pytest.approx(
                (expected.median, expected.p90, expected.worst), abs=1e-9
            ), (key, step)
    assert [(w.episode.alarm_id, w.seconds_late, w.step) for w in response.worst] == WORST

    coverage = figures.coverage
    assert coverage.period_minutes == 2880
    assert coverage.blind_minutes == {
        "main-1f-er": 0.0,
        "main-2f-ward": 45.0,
        "main-b1-plant": 30.0,
    }
    assert coverage.blind_by_month["main-b1-plant"] == {"2026-02": 10.0, "2026-03": 20.0}
    assert coverage.blind_by_month["main-2f-ward"] == {"2026-02": 45.0, "2026-03": 0.0}
    assert {d: s for d, s in coverage.answered.items() if s < 1} == ANSWERED
    assert len(coverage.answered) == 11
    assert coverage.pressure == PRESSURE
    assert coverage.retention == RETENTION

    health = figures.health
    # critical: the three fires and the confirmed fire; medium: pressure high, the fault;
    # high: the rest, the flickering pre-alarm twelve times.
    assert health.priorities == {CRITICAL: 4, HIGH: 20, MEDIUM: 2, LOW: 0}
    assert health.announced == 26
    assert health.per_10_min == 26 / 288
    assert (health.peak_10_min, health.periods, health.floods) == (12, 288, 1)
    assert health.time_in_flood == 1 / 288
    assert health.chattering == ["pre_alarm:SD-2F-02"]
    assert health.stale == ["pressure_high:HP-1F-01"]
    assert health.noisiest == NOISIEST
    assert health.per_day == [("2026-02-28", 8, 2), ("2026-03-01", 18, 12)]
