"""A synthetic period with a known truth: two days (2026-02-28 and 2026-03-01, UTC) of the demo
clinic, played through the real rules engine, and the readings of every device minute by
minute. `tests/report/test_truth.py` states what the report must say about it, figure by
figure, worked out by hand from the script below.

The script (all UTC; D1 = 2026-02-28, D2 = 2026-03-01; times are when things happen):

- D1 02:00:00 HP-1F-01 reads 1.2 MPa, and stays there: pressure_high raised 02:00:30,
  never acknowledged, stale a day later (D2 02:00:30): open at the end.
- D1 08:00:00 SD-1F-01 in fire; acknowledged 08:00:38 (chen.wei), on site 08:02:30
  (chen.wei), detector normal 08:03:20, reset 08:10:00 (li.na).
- D1 09:00:00 SD-2F-01 pre-alarm; normal 09:00:20; acknowledged 09:01:30 (chen.wei).
- D1 10:00:00 HP-2F-01 reads 0.05 MPa: pressure_low raised 10:00:30; acknowledged 10:02:10,
  on site 10:07:10 (chen.wei); 0.3 MPa at 10:08:50: cleared.
- D1 12:00:00 CAM-2F-01 offline and not recording: camera_offline and the blind spot of
  main-2f-ward raised 12:00:10 (not recording held back: its consequence); blind spot
  acknowledged 12:00:40 (chen.wei), camera_offline 12:01:00 (li.na); online and recording
  again 12:45:10: both cleared, the held one gone with its cause.
- D1 23:49:50 CAM-B1-01 offline: raised 23:50:00 with the blind spot of main-b1-plant; online
  again D2 00:20:00 (10 blind minutes in February, 20 in March); both acknowledged 00:30:00
  (li.na).
- D2 03:00:00 CAM-1F-01 tampered: raised 03:00:10; over 03:00:50; acknowledged 04:00:10 (li.na).
- D2 06:00:00 SD-B1-01 fault: raised 06:00:10; acknowledged 06:00:30 (chen.wei); normal
  06:05:10: cleared.
- D2 07:00:00 the I/O module's link main-io down: link_lost raised 07:00:01; up 07:04:01;
  acknowledged 07:10:00 (chen.wei): a communication glitch.
- D2 09:00:05 SD-2F-02 pre-alarm, normal 10 s later, twelve times every 20 s: one
  activation, twelve announcements in one 10-minute period (a flood), chattering;
  acknowledged 09:05:00 (chen.wei).
- D2 14:00:00 SD-2F-01 in fire, 14:00:20 SD-2F-02: confirmed fire of main-2f-ward; all three
  acknowledged 14:01:30 (chen.wei); SD-2F-01 on site 14:04:00 (chen.wei); detectors normal
  14:10:00; all three reset 14:20:00 (li.na).

Readings, one per device at second 30 of every minute of both days, except: SD-B1-01 silent
D1 20:00-21:29 (90 minutes), HP-B1-01 silent D2 12:00-12:29 (30 minutes); HP-1F-01 1.2 MPa from
D1 02:00; HP-2F-01 0.05 MPa D1 10:00-10:08 (and 0.3 at 10:08:55), a spike to 1.05 MPa at D2
15:00:45; CAM-B1-01 keeps 80 days of recordings from D2 12:00 (95 before), CAM-2F-01 92,
CAM-1F-01 95.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core import Reading
from gateway.alarms.devices import device_infos
from gateway.alarms.lines import EventLines
from gateway.config import Site, load_site
from gateway.outbox.lineprotocol import encode
from rules import AlarmEvent, DeviceKind, RuleEngine, RuleSet
from rules.clock import FakeClock
from tests.servers import InfluxServer

CONFIG = Path(__file__).resolve().parents[2] / "config"
DATABASE = "firegw"
START = dt.datetime(2026, 2, 28, tzinfo=dt.UTC)
DAYS = 2
MINUTES = DAYS * 24 * 60

RULES = RuleSet.model_validate(
    {
        "kinds": {
            kind: {"comms_lost": {"enabled": False}}
            for kind in (DeviceKind.SMOKE_DETECTOR, DeviceKind.HYDRANT_PRESSURE, DeviceKind.CAMERA)
        }
    }
)
"""The default rules without communication loss: the script sends readings only when
something happens (the readings minute by minute go to the history, not to the engine)."""


def at(day: int, clock: str) -> dt.datetime:
    """D1 or D2 at "HH:MM:SS"."""
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return START + dt.timedelta(days=day - 1, hours=hours, minutes=minutes, seconds=seconds)


def ns(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


Step = tuple[dt.datetime, list[Reading] | tuple[str, str, str]]


def _script() -> list[Step]:
    def r(device: str, point: str, value: object) -> list[Reading]:
        return [Reading(device, point, value)]  # type: ignore[arg-type]

    steps: list[Step] = [
        (at(1, "02:00:00"), r("HP-1F-01", "pressure", 1.2)),
        (at(1, "08:00:00"), r("SD-1F-01", "status", "fire")),
        (at(1, "08:00:38"), ("acknowledge", "fire:SD-1F-01", "chen.wei")),
        (at(1, "08:02:30"), ("on_site", "fire:SD-1F-01", "chen.wei")),
        (at(1, "08:03:20"), r("SD-1F-01", "status", "normal")),
        (at(1, "08:10:00"), ("reset", "fire:SD-1F-01", "li.na")),
        (at(1, "09:00:00"), r("SD-2F-01", "status", "pre_alarm")),
        (at(1, "09:00:20"), r("SD-2F-01", "status", "normal")),
        (at(1, "09:01:30"), ("acknowledge", "pre_alarm:SD-2F-01", "chen.wei")),
        (at(1, "10:00:00"), r("HP-2F-01", "pressure", 0.05)),
        (at(1, "10:02:10"), ("acknowledge", "pressure_low:HP-2F-01", "chen.wei")),
        (at(1, "10:07:10"), ("on_site", "pressure_low:HP-2F-01", "chen.wei")),
        (at(1, "10:08:50"), r("HP-2F-01", "pressure", 0.3)),
        (
            at(1, "12:00:00"),
            [Reading("CAM-2F-01", "online", False), Reading("CAM-2F-01", "recording", False)],
        ),
        (at(1, "12:00:40"), ("acknowledge", "blind_spot:main-2f-ward", "chen.wei")),
        (at(1, "12:01:00"), ("acknowledge", "camera_offline:CAM-2F-01", "li.na")),
        (
            at(1, "12:45:10"),
            [Reading("CAM-2F-01", "online", True), Reading("CAM-2F-01", "recording", True)],
        ),
        (at(1, "23:49:50"), r("CAM-B1-01", "online", False)),
        (at(2, "00:20:00"), r("CAM-B1-01", "online", True)),
        (at(2, "00:30:00"), ("acknowledge", "camera_offline:CAM-B1-01", "li.na")),
        (at(2, "00:30:00"), ("acknowledge", "blind_spot:main-b1-plant", "li.na")),
        (at(2, "03:00:00"), r("CAM-1F-01", "tamper", True)),
        (at(2, "03:00:50"), r("CAM-1F-01", "tamper", False)),
        (at(2, "04:00:10"), ("acknowledge", "camera_tamper:CAM-1F-01", "li.na")),
        (at(2, "06:00:00"), r("SD-B1-01", "status", "fault")),
        (at(2, "06:00:30"), ("acknowledge", "detector_fault:SD-B1-01", "chen.wei")),
        (at(2, "06:05:10"), r("SD-B1-01", "status", "normal")),
        (at(2, "07:00:00"), r("main-io", "up", False)),
        (at(2, "07:04:01"), r("main-io", "up", True)),
        (at(2, "07:10:00"), ("acknowledge", "link_lost:main-io", "chen.wei")),
    ]
    for n in range(12):
        flicker = at(2, "09:00:05") + dt.timedelta(seconds=20 * n)
        steps.append((flicker, r("SD-2F-02", "status", "pre_alarm")))
        steps.append((flicker + dt.timedelta(seconds=10), r("SD-2F-02", "status", "normal")))
    steps += [
        (at(2, "09:05:00"), ("acknowledge", "pre_alarm:SD-2F-02", "chen.wei")),
        (at(2, "14:00:00"), r("SD-2F-01", "status", "fire")),
        (at(2, "14:00:20"), r("SD-2F-02", "status", "fire")),
        (at(2, "14:01:30"), ("acknowledge", "fire:SD-2F-01", "chen.wei")),
        (at(2, "14:01:30"), ("acknowledge", "fire:SD-2F-02", "chen.wei")),
        (at(2, "14:01:30"), ("acknowledge", "confirmed_fire:main-2f-ward", "chen.wei")),
        (at(2, "14:04:00"), ("on_site", "fire:SD-2F-01", "chen.wei")),
        (
            at(2, "14:10:00"),
            [Reading("SD-2F-01", "status", "normal"), Reading("SD-2F-02", "status", "normal")],
        ),
        (at(2, "14:20:00"), ("reset", "fire:SD-2F-01", "li.na")),
        (at(2, "14:20:00"), ("reset", "fire:SD-2F-02", "li.na")),
        (at(2, "14:20:00"), ("reset", "confirmed_fire:main-2f-ward", "li.na")),
    ]
    return sorted(steps, key=lambda step: step[0])


def play(site: Site) -> list[AlarmEvent]:
    """The script through the rules engine, ticked every second; every event, in order."""
    start = ns(START)
    clock = FakeClock(wall_ns=start)
    engine = RuleEngine(device_infos(site), RULES, clock)
    events: list[AlarmEvent] = []
    end = start + DAYS * 86_400 * 1_000_000_000
    for moment, action in _script():
        _tick_until(engine, clock, ns(moment), events)
        if isinstance(action, list):
            events += engine.on_readings(
                [dataclasses.replace(r, observed_at=clock.wall_ns()) for r in action]
            )
        else:
            kind, alarm, by = action
            result = engine.command(kind, alarm, by=by)
            if not result.ok:
                raise AssertionError(f"{moment} {kind} {alarm}: {result.reason}")
            events += result.events
    _tick_until(engine, clock, end - 1_000_000_000, events)
    return events


def _tick_until(engine: RuleEngine, clock: FakeClock, wall: int, events: list[AlarmEvent]) -> None:
    while clock.wall_ns() < wall:
        clock.advance(min(1.0, (wall - clock.wall_ns()) / 1e9))
        events += engine.tick()


@dataclass
class _Series:
    """One device's readings of one point: a value for every minute, and the exceptions."""

    device: str
    point: str
    value: object
    silent: set[int] = field(default_factory=set)
    changes: dict[int, object] = field(default_factory=dict)
    extra: dict[int, tuple[int, object]] = field(default_factory=dict)
    """Minute -> (second, value) of a second reading in that minute."""


def _minute(day: int, clock: str) -> int:
    return int((at(day, clock) - START).total_seconds() // 60)


def _span(first: int, last: int) -> set[int]:
    return set(range(first, last + 1))


def _readings_plan() -> list[_Series]:
    plan = [
        _Series("SD-1F-01", "status", "normal"),
        _Series("SD-1F-02", "status", "normal"),
        _Series("SD-2F-01", "status", "normal"),
        _Series("SD-2F-02", "status", "normal"),
        _Series(
            "SD-B1-01",
            "status",
            "normal",
            silent=_span(_minute(1, "20:00:00"), _minute(1, "21:29:00")),
        ),
        _Series("HP-1F-01", "pressure", 0.45),
        _Series("HP-2F-01", "pressure", 0.45),
        _Series(
            "HP-B1-01",
            "pressure",
            0.45,
            silent=_span(_minute(2, "12:00:00"), _minute(2, "12:29:00")),
        ),
        _Series("CAM-1F-01", "online", True),
        _Series("CAM-2F-01", "online", True),
        _Series("CAM-B1-01", "online", True),
        _Series("CAM-1F-01", "retention_days", 95.0),
        _Series("CAM-2F-01", "retention_days", 92.0),
        _Series("CAM-B1-01", "retention_days", 95.0),
    ]
    by = {(s.device, s.point): s for s in plan}
    high = by[("HP-1F-01", "pressure")]
    high.changes = dict.fromkeys(range(_minute(1, "02:00:00"), MINUTES), 1.2)
    low = by[("HP-2F-01", "pressure")]
    low.changes = dict.fromkeys(_span(_minute(1, "10:00:00"), _minute(1, "10:08:00")), 0.05)
    low.extra = {_minute(1, "10:08:00"): (55, 0.3), _minute(2, "15:00:00"): (45, 1.05)}
    low.changes[_minute(2, "15:00:00")] = 0.4
    by[("CAM-B1-01", "retention_days")].changes = dict.fromkeys(
        range(_minute(2, "12:00:00"), MINUTES), 80.0
    )
    by[("CAM-2F-01", "online")].changes = dict.fromkeys(
        _span(_minute(1, "12:00:00"), _minute(1, "12:45:00")), False
    )
    return plan


def reading_lines(site: Site) -> Iterator[str]:
    """Every reading of the period as the gateway writes it (measurement = kind, tags)."""
    start = ns(START)
    for series in _readings_plan():
        device = site.devices[series.device]
        tags = site.tags(device)
        for minute in range(MINUTES):
            if minute in series.silent:
                continue
            base = start + minute * 60_000_000_000
            value = series.changes.get(minute, series.value)
            yield encode(
                Reading(device.id, series.point, value, observed_at=base + 30_000_000_000),
                device.kind.value,
                tags,
            )  # type: ignore[arg-type]
            if minute in series.extra:
                second, other = series.extra[minute]
                yield encode(
                    Reading(
                        device.id, series.point, other, observed_at=base + second * 1_000_000_000
                    ),
                    device.kind.value,
                    tags,
                )  # type: ignore[arg-type]


def write_site(folder: Path, influx: InfluxServer | None, report: str = "") -> Site:
    """The demo clinic, with its outbox in `folder`, InfluxDB `influx` (if given) and `report`
    (YAML lines of its `report:` section, UTC unless they say otherwise)."""
    text = (CONFIG / "demo.yaml").read_text()
    text = text.replace("profiles: [profiles/]", f"profiles: [{CONFIG / 'profiles'}]")
    text = text.replace(
        "outbox: {path: ../var/demo-outbox.sqlite}", f"outbox: {{path: {folder / 'outbox.sqlite'}}}"
    )
    if influx is not None:
        text += f"\ninfluxdb: {{api: v1, url: {influx.url}, database: {DATABASE}}}\n"
    text += "\nreport:\n  timezone: UTC\n" + report
    path = folder / "site.yaml"
    path.write_text(text)
    return load_site(path)


def store_in_influx(influx: InfluxServer, site: Site, events: list[AlarmEvent]) -> None:
    """The events as the gateway writes them, and every reading, into `influx`."""
    influx.create_database(DATABASE)
    lines = EventLines(site.config.site.id, {z.id: str(z.risk) for z in site.config.zones})
    write_lines(influx, [lines(event) for event in events])
    write_lines(influx, list(reading_lines(site)))


def write_lines(influx: InfluxServer, lines: list[str], chunk: int = 20_000) -> None:
    for first in range(0, len(lines), chunk):
        body = "\n".join(lines[first : first + chunk]).encode()
        request = urllib.request.Request(
            f"{influx.url}/write?db={DATABASE}&precision=ns", data=body, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status != 204:
                raise AssertionError(f"InfluxDB refused the write: {response.status}")
