"""Nothing accepted is lost, nothing arrives twice: the gateway as a process, killed and starved.

Real servers throughout: `python -m firegw run SITE` as a subprocess, the simulated clinic
over real sockets in the test process, Mosquitto, and InfluxDB 1.x. Every check compares
exact sets of (device, point, timestamp), never totals: "accepted" is what the test itself
read from the SQLite outbox file (the committed rows are exactly what a kill leaves behind),
plus what InfluxDB already held.

What a SIGKILL may lose, by design: readings still in the writer's memory, which commits
readings once a second while they keep coming (`commit_interval`), and readings a driver was
decoding at that instant. They were never accepted, so no check here counts them.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from gateway.alarms import FeedTopics
from gateway.config import load_site
from gateway.outbox.store import lines_in_file
from simulators import SimulatedSite
from tests.conftest import InfluxFactory
from tests.mqtt_watch import retained
from tests.servers import InfluxServer, MosquittoServer, free_port
from tests.sites import clinic_site, eventually

FIREGW = [sys.executable, "-m", "firegw", "run"]
MEASUREMENTS = ("smoke_detector", "hydrant_pressure", "camera", "gateway", "link", "alarm_event")
TAGS = frozenset({"time", "site", "building", "zone", "device", "rule", "class", "priority"})
ALARM_EVENT = "alarm_event"

Key = tuple[str, str, int]
"""(device, point, observation time in ns): what InfluxDB keeps one value of."""

_UNESCAPED_SPACE = re.compile(r"(?<!\\) ")
_UNESCAPED_EQUALS = re.compile(r"(?<!\\)=")
_DROPPED = re.compile(
    r"outbox \S+ is full \(cap (\d+) lines\): dropped the (\d+) oldest "
    r"readings, (\d+) in all"
)
_WRITTEN = re.compile(r"outbox flushed: (\d+) readings written this run")


# Reading the evidence: line protocol, the outbox file, InfluxDB.


def point_of(field: str) -> str:
    """The reading's point: `pressure_quality` and `pressure_detail` belong to `pressure`."""
    for suffix in ("_quality", "_detail"):
        if field.endswith(suffix):
            return field.removesuffix(suffix)
    return field


def key_of(line: str) -> Key:
    """(device, point, timestamp) of one line; every alarm event's point is `alarm_event`."""
    series, fields = _UNESCAPED_SPACE.split(line, maxsplit=1)
    tags = dict(tag.split("=", 1) for tag in series.split(",")[1:])
    measurement = series.split(",", 1)[0]
    point = (
        ALARM_EVENT
        if measurement == ALARM_EVENT
        else point_of(_UNESCAPED_EQUALS.split(fields, maxsplit=1)[0])
    )
    return tags.get("device", ""), point, int(line.rsplit(" ", 1)[1])


def outbox_rows(path: Path) -> list[tuple[int, str]]:
    """The committed rows of the outbox file, read directly: (id, line), oldest first."""
    return lines_in_file(path)  # [] before the file or its tables exist


def outbox_keys(path: Path) -> set[Key]:
    return {key_of(line) for _, line in outbox_rows(path)}


def stored_rows(influxdb: InfluxServer, database: str) -> list[Key]:
    """Every (device, point, time) InfluxDB holds, once per series it is in (duplicates kept)."""
    found: list[Key] = []
    for measurement in MEASUREMENTS:
        for row in influxdb.query(database, f'SELECT * FROM "{measurement}" GROUP BY *'):
            device, at = str(row.get("device") or ""), int(row["time"])
            if measurement == ALARM_EVENT:
                points = {ALARM_EVENT}
            else:
                points = {
                    point_of(name)
                    for name, value in row.items()
                    if name not in TAGS and value is not None
                }
            found.extend((device, point, at) for point in points)
    return found


def stored(influxdb: InfluxServer, database: str) -> set[Key]:
    return set(stored_rows(influxdb, database))


def assert_no_duplicates(rows: Iterable[Key]) -> None:
    twice = [row for row, count in Counter(rows).items() if count > 1]
    assert not twice, f"{len(twice)} points stored more than once, first {twice[:3]}"


# The gateway as a user runs it.


class GatewayProcess:
    """`firegw run SITE` in a subprocess; its stderr (the log) goes to a file, never a pipe
    that could fill up and stall it."""

    def __init__(self, site_file: Path, log: Path) -> None:
        self.site_file = site_file
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._running_before = 0
        """How many starts had logged "running" before this one: a start killed within a
        second or two on a loaded machine may never get that far."""

    async def start(self) -> None:
        self.starts += 1
        self._running_before = self._runs_logged() if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *FIREGW,
                str(self.site_file),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        assert self.process is not None
        self.process.kill()
        await asyncio.wait_for(self.process.wait(), timeout=10)

    async def running(self) -> None:
        """Wait until this start has its tasks running (and its SIGTERM handler in place)."""
        await eventually(
            lambda: self._runs_logged() > self._running_before,
            within=15,
            what="the gateway running",
        )

    async def terminate(self) -> None:
        """SIGTERM once running, and check the gateway stopped cleanly."""
        assert self.process is not None
        await self.running()
        self.process.send_signal(signal.SIGTERM)
        # The stop itself is measured in bench/ (STOP_S) and in tests/system/test_stopping.py;
        # this bound is for a loaded 2-core machine (a quiet stop takes 0.05 s).
        code = await asyncio.wait_for(self.process.wait(), timeout=20)
        assert code == 0, self.log.read_text()[-3000:]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def _runs_logged(self) -> int:
        return self.log_text().count("gateway for Demo clinic running")


class OutboxWatch:
    """Reads the outbox file every 50 ms in the background and keeps every key it ever saw,
    so lines committed and delivered between the test's own snapshots count as accepted too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[Key] = set()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> OutboxWatch:
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.snapshot()

    def snapshot(self) -> set[Key]:
        keys = outbox_keys(self.path)
        self.seen |= keys
        return keys

    async def _watch(self) -> None:
        while True:
            await asyncio.to_thread(self.snapshot)
            await asyncio.sleep(0.05)


def site_with_influx(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    url: str,
    database: str,
    *,
    poll_interval: str = "100ms",
) -> Path:
    return clinic_site(
        tmp_path,
        mqtt_port=mosquitto.port,
        influx_url=url,
        database=database,
        poll_interval=poll_interval,
    )


# 1. SIGKILL at random moments.


async def test_sigkill_at_random_moments_loses_no_committed_line(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb_factory: InfluxFactory
) -> None:
    database = "lost_sigkill"
    server = influxdb_factory()
    server.create_database(database)
    site_file = site_with_influx(tmp_path, mosquitto, server.url, database)
    site = load_site(site_file)
    gateway = GatewayProcess(site_file, tmp_path / "gateway.log")
    rng = random.Random(20261123)
    committed: set[Key] = set()
    async with SimulatedSite(site, seed=5), OutboxWatch(site.outbox_path) as watch:
        for kill in range(4):
            await gateway.start()
            # at a random moment of its running, not of its start-up: under the full suite's
            # load a start takes seconds, and a kill before the first commit proves nothing
            await gateway.running()
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            # Every other kill comes while InfluxDB hangs (SIGSTOP): a backlog builds up and
            # a write is in flight, the server taking it only after the gateway is dead.
            hung = kill % 2 == 1
            if hung:
                pause(server, signal.SIGSTOP)
                await asyncio.sleep(rng.uniform(0.3, 1.0))
            killed_at = time.time_ns()
            try:
                await gateway.kill()
                in_outbox = watch.snapshot()  # exactly what the kill left committed
            finally:
                pause(server, signal.SIGCONT)
            in_database = stored(server, database)
            committed |= in_outbox | in_database
            newest = max((at for _, _, at in committed), default=killed_at)
            print(
                f"kill {kill + 1}{' (InfluxDB hung)' if hung else ''}: {len(in_outbox)}"
                f" lines waiting in the outbox ({len(in_outbox & in_database)} of them also"
                f" in InfluxDB), {len(in_database)} in InfluxDB; newest committed reading"
                f" {(killed_at - newest) / 1e6:.0f} ms before the kill"
            )
        committed |= watch.seen
        await gateway.start()
        await eventually(
            lambda: committed <= stored(server, database),
            within=30,
            what="every line committed before a kill in InfluxDB",
        )
        await gateway.terminate()
    rows = stored_rows(server, database)
    assert_no_duplicates(rows)
    assert len(committed) > 100
    print(f"committed before the kills: {len(committed)}, stored at the end: {len(rows)}")


def pause(server: InfluxServer, signal_number: signal.Signals) -> None:
    """SIGSTOP or SIGCONT the server: it hangs with its port open, or carries on."""
    assert server.process is not None
    server.process.send_signal(signal_number)


# 2. The database goes away for a while and comes back.


async def test_an_outage_of_the_database_loses_nothing_not_even_its_first_seconds(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb_factory: InfluxFactory
) -> None:
    database = "lost_outage"
    server = influxdb_factory()
    server.create_database(database)
    site_file = site_with_influx(tmp_path, mosquitto, server.url, database)
    site = load_site(site_file)
    gateway = GatewayProcess(site_file, tmp_path / "gateway.log")
    async with SimulatedSite(site, seed=6), OutboxWatch(site.outbox_path) as watch:
        await gateway.start()
        await eventually(
            lambda: len(stored(server, database)) > 50,
            within=15,
            what="the first readings in InfluxDB",
        )
        before = stored(server, database)
        outage_began = time.time_ns()
        server.stop()
        await asyncio.sleep(5)
        during = watch.snapshot()  # nothing left the outbox since the stop
        server.start()
        accepted = before | watch.seen
        first_seconds = {key for key in during if outage_began <= key[2] < outage_began + 2e9}
        await eventually(
            lambda: accepted <= stored(server, database),
            within=40,
            what="every accepted reading in InfluxDB after the outage",
        )
        await gateway.terminate()
    rows = stored_rows(server, database)
    assert_no_duplicates(rows)
    assert len(first_seconds) > 50
    assert first_seconds <= set(rows)
    print(
        f"before the outage: {len(before)} stored; waiting at its end: {len(during)}, of which"
        f" {len(first_seconds)} from its first 2 s; accepted in all {len(accepted)};"
        f" stored at the end: {len(rows)}"
    )


# 3. A restart while the database is down.


async def test_a_restart_while_the_database_is_down_keeps_the_backlog(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb_factory: InfluxFactory
) -> None:
    database = "lost_restart"
    server = influxdb_factory()
    server.stop()
    site_file = site_with_influx(tmp_path, mosquitto, server.url, database)
    site = load_site(site_file)
    gateway = GatewayProcess(site_file, tmp_path / "gateway.log")
    async with SimulatedSite(site, seed=7):
        await gateway.start()
        await asyncio.sleep(4)
        await gateway.terminate()
        first_run = outbox_keys(site.outbox_path)  # with SIGTERM, everything it accepted
        server.start()
        server.create_database(database)
        await gateway.start()
        await eventually(
            lambda: first_run <= stored(server, database),
            within=30,
            what="the first run's readings in InfluxDB",
        )
        await gateway.terminate()
    rows = stored_rows(server, database)
    assert_no_duplicates(rows)
    assert len(first_run) > 100
    print(f"accepted in the first run: {len(first_run)}, stored at the end: {len(rows)}")


def dropped_so_far(log: str) -> int:
    """The running total of the last "outbox is full" warning in `log` (0 before any)."""
    return max((int(total) for _, _, total in _DROPPED.findall(log)), default=0)


# 4. A full outbox drops the oldest readings, loudly, and never an alarm event.


async def test_a_full_outbox_drops_the_oldest_readings_loudly_and_never_an_alarm_event(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    cap = 1000  # the smallest cap the config allows
    dead = f"http://127.0.0.1:{free_port()}"
    site_file = site_with_influx(tmp_path, mosquitto, dead, "lost_full")
    site_file.write_text(
        site_file.read_text().replace("outbox.sqlite}", f"outbox.sqlite, max_rows: {cap}}}")
    )
    site = load_site(site_file)
    gateway = GatewayProcess(site_file, tmp_path / "gateway.log")
    async with SimulatedSite(site, seed=8) as simulators:
        await gateway.start()
        await eventually(
            lambda: len(outbox_rows(site.outbox_path)) > 20,
            within=15,
            what="the first readings in the outbox",
        )
        for _ in range(2):  # raised and returned to normal, twice: four alarm events
            await simulators.apply("fire", "SD-1F-01")
            await asyncio.sleep(0.6)
            await simulators.apply("clear", "SD-1F-01")
            await asyncio.sleep(0.6)
        early = outbox_rows(site.outbox_path)
        assert len(early) < cap
        early_alarms = {row for row in early if row[1].startswith(f"{ALARM_EVENT},")}
        assert len(early_alarms) >= 2
        newest_alarm = max(row_id for row_id, _ in early_alarms)
        await eventually(
            lambda: dropped_so_far(gateway.log_text()) > newest_alarm,
            within=20,
            what="every reading older than the alarm events dropped",
        )
        # An alarm first: "outbox nearly full" is on the feed, for the security office.
        topics = FeedTopics.for_site(site)
        nearly_full = topics.alarm(f"outbox_nearly_full:{site.config.site.gateway_id}")
        feed = await retained(mosquitto, topics)
        assert feed[nearly_full]["class"] == "trouble"
        message = feed[nearly_full]["message"]
        assert message.startswith(f"Gateway {site.config.site.gateway_id} outbox nearly full")
        await gateway.terminate()

    rows = outbox_rows(site.outbox_path)
    log = gateway.log_text()
    # ... raised before the cap dropped the first reading (the log keeps the order).
    trouble = log.index("trouble: history not reaching the database: outbox holds")
    assert trouble < _DROPPED.search(log).start()  # type: ignore[union-attr]
    drops = [tuple(map(int, match)) for match in _DROPPED.findall(log)]
    written = sum(int(n) for n in _WRITTEN.findall(log))
    # Counted and logged: each batch with the running total, and nothing else went missing.
    assert all(logged_cap == cap for logged_cap, _, _ in drops)
    totals = [total for _, _, total in drops]
    assert totals == [sum(n for _, n, _ in drops[: i + 1]) for i in range(len(drops))]
    assert written == len(rows) + totals[-1]
    assert len(rows) <= cap
    # The alarm events are all there, though older than every reading kept.
    alarm_ids = {row_id for row_id, line in rows if line.startswith(f"{ALARM_EVENT},")}
    assert early_alarms <= set(rows)
    reading_ids = [row_id for row_id, line in rows if row_id not in alarm_ids]
    assert newest_alarm < min(reading_ids)
    # The newest readings are kept: the last ids the writer gave out, with no gap.
    all_reading_ids = [i for i in range(1, written + 1) if i not in alarm_ids]
    assert reading_ids == all_reading_ids[-len(reading_ids) :]
    print(
        f"written {written}, dropped {totals[-1]} in {len(drops)} logged batches, kept"
        f" {len(reading_ids)} readings and {len(alarm_ids)} alarm events"
    )
