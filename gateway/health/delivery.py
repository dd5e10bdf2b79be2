"""Is the history reaching every database? The outbox and its sinks watched like a device.

Every `interval` seconds `DeliveryHealth` takes a `DeliveryReport`: the outbox's backlog against
its cap, the lines dropped at the cap and set aside as dead letters, and per sink its backlog,
how far behind it is, its write rate and its last error. Two trouble conditions come out of it:

- **history not reaching the database**: the oldest line some sink still has to deliver was
  observed more than `outbox.alarm_age` ago;
- **outbox nearly full**: the outbox holds `outbox.alarm_fill` of its cap or more, so the
  oldest readings will soon be dropped (the cap's policy, see the README).

Each change is logged (a warning when raised, info when cleared). The report also goes to the
hub as readings of the gateway itself (device `SiteInfo.gateway_id`, kind `gateway`): the rules
engine raises and clears the two trouble alarms on the feed from its `history_stored` and
`outbox_nearly_full` flags, and the numbers are stored in InfluxDB as the gateway's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from core import Reading, ReadingSink
from gateway.alarms import AUDIT_MEASUREMENT
from gateway.alarms import MEASUREMENT as ALARM_MEASUREMENT
from gateway.config import OutboxSettings, redact_url, redact_urls
from gateway.outbox import Outbox
from gateway.sinks import Sink
from gateway.sqlitefile import STORAGE_ERRORS

__all__ = ["NEVER_DROP", "DeliveryHealth", "DeliveryReport", "SinkHealth"]

log = logging.getLogger(__name__)

NEVER_DROP = (ALARM_MEASUREMENT, AUDIT_MEASUREMENT)
"""Measurements the outbox's size cap never drops: alarm events and the command audit."""

CHECK_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class SinkHealth:
    """One database connection as the status shows it.

    `behind` is how long ago the oldest line this sink still has to deliver was observed
    (seconds; None when it has nothing to deliver). `rate` is lines written per second since
    the previous report. `last_success` is wall-clock seconds since the epoch.
    """

    name: str
    url: str | None
    backlog: int
    behind: float | None
    written: int
    rate: float
    rejected: int
    last_error: str | None
    last_success: float | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """The outbox and every sink at one moment, and the trouble conditions they amount to."""

    at: int
    backlog: int
    max_rows: int
    dropped: int
    dead_letters: int
    sinks: tuple[SinkHealth, ...]
    late: str | None
    """Why history is not reaching the database, or None while it is."""
    filling: str | None
    """Why the outbox counts as nearly full, or None."""

    @property
    def fill(self) -> float:
        """The share of the cap in use, 0.0 to 1.0."""
        return self.backlog / self.max_rows

    @property
    def behind(self) -> float:
        """The farthest any sink is behind, in seconds (0.0 when all are up to date)."""
        return max((sink.behind or 0.0 for sink in self.sinks), default=0.0)

    def as_dict(self) -> dict[str, object]:
        """For the gateway's status document."""
        document = asdict(self)
        document["fill"] = round(self.fill, 4)
        document["sinks"] = [asdict(sink) for sink in self.sinks]
        return document

    def readings(self, device: str) -> list[Reading]:
        """The report as readings of the gateway `device`, observed at `at`."""
        values: dict[str, tuple[bool | int | float, str | None]] = {
            "history_stored": (self.late is None, None),
            "outbox_nearly_full": (self.filling is not None, None),
            "outbox_backlog": (self.backlog, "lines"),
            "outbox_fill": (round(self.fill, 4), None),
            "history_behind": (round(self.behind, 3), "s"),
            "outbox_dropped": (self.dropped, "lines"),
            "dead_letters": (self.dead_letters, "lines"),
        }
        return [
            Reading(device, point, value, unit=unit, observed_at=self.at)
            for point, (value, unit) in values.items()
        ]


class DeliveryHealth:
    """Watches the outbox and its sinks; see the module's docstring.

    Args:
        settings: the site's `outbox:` settings (cap, `alarm_fill`, `alarm_age`).
        outbox: the open outbox.
        sinks: the running sinks by name, for their counters (a name the outbox has but this
            mapping lacks is still watched for its backlog).
        device: the gateway's device id for `publish`.
        publish: where the report's readings go (the hub), or None.
        interval: seconds between reports.

    Attributes:
        report: the latest report, None before the first check.
        trouble: both conditions in one sentence, or None while history flows.
    """

    def __init__(
        self,
        settings: OutboxSettings,
        outbox: Outbox,
        sinks: Mapping[str, Sink] | None = None,
        *,
        device: str = "gateway",
        publish: ReadingSink | None = None,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.sinks = dict(sinks or {})
        self.device = device
        self.publish = publish
        self.interval = interval
        self.report: DeliveryReport | None = None
        self.trouble: str | None = None
        self._written: dict[str, tuple[float, int]] = {}
        self._committed = asyncio.Event()

    async def run(self) -> None:
        """Report every `interval` seconds until cancelled, and at once when the outbox fills."""
        while True:
            await self.check()
            await self._until_due()

    def committed(self) -> None:
        """Lines were committed to the outbox: the fill may have crossed `alarm_fill`.

        The outbox can fill within one interval (a small cap, a burst after an outage), and
        the alarm must come before the cap starts dropping, so a commit gets the backlog
        looked at now, which costs no query.
        """
        self._committed.set()

    async def _until_due(self) -> None:
        """Wait for the next report: `interval` seconds, or a commit that filled the outbox."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self.interval
        while (left := due - loop.time()) > 0:
            self._committed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._committed.wait()
            if self._newly_filling(await self.outbox.backlog()):
                return

    def _newly_filling(self, backlog: int) -> bool:
        filling = self.report is not None and self.report.filling is not None
        return not filling and backlog >= self.settings.alarm_fill * self.settings.max_rows

    async def check(self) -> str | None:
        """Take a report now, log a change, publish it; return the trouble (None if fine).

        An outbox that cannot be read right now (its file could not be opened again after
        the disk failed) gives no report: the writer and `GatewayTroubles` say why.
        """
        try:
            report = await self._take()
        except STORAGE_ERRORS as error:
            log.debug("delivery health: the outbox cannot be read now: %s", error)
            return self.trouble
        trouble = "; ".join(cause for cause in (report.filling, report.late) if cause) or None
        if trouble and not self.trouble:
            log.warning("trouble: history not reaching the database: %s", trouble)
        elif self.trouble and not trouble:
            log.info("history reaches the database again (was: %s)", self.trouble)
        elif self.report is not None and _causes(report) != _causes(self.report):
            log.warning("trouble: history not reaching the database: now %s", trouble)
        self.report, self.trouble = report, trouble
        if self.publish is not None:
            await self.publish(report.readings(self.device))
        return trouble

    async def _take(self) -> DeliveryReport:
        backlog, cap = await self.outbox.backlog(), self.settings.max_rows
        now = time.time_ns()
        sinks = tuple([await self._sink(name, now) for name in self.outbox.sinks])
        filling = None
        if backlog >= self.settings.alarm_fill * cap:
            filling = f"outbox holds {backlog} of at most {cap} lines"
        late = next(
            (
                f"sink {sink.name} is {sink.behind:.0f} s behind"
                for sink in sinks
                if sink.behind is not None and sink.behind > self.settings.alarm_age
            ),
            None,
        )
        return DeliveryReport(
            now,
            backlog,
            cap,
            self.outbox.dropped,
            await self.outbox.dead_letters(),
            sinks,
            late,
            filling,
        )

    async def _sink(self, name: str, now: int) -> SinkHealth:
        reader = self.outbox.reader(name)
        oldest = await reader.oldest_observed_at()
        behind = None if oldest is None else max(0.0, (now - oldest) / 1e9)
        sink = self.sinks.get(name)
        written = sink.written if sink is not None else 0
        return SinkHealth(
            name=name,
            url=redact_url(sink.url) if sink is not None else None,
            backlog=await self._backlog(name),
            behind=behind,
            written=written,
            rate=self._rate(name, written),
            rejected=sink.rejected if sink is not None else 0,
            last_error=(
                redact_urls(sink.last_error)
                if sink is not None and sink.last_error is not None
                else None
            ),
            last_success=sink.last_success if sink is not None else None,
        )

    async def _backlog(self, name: str) -> int:
        """The sink's backlog; with one sink it is the outbox's, which costs no count."""
        if len(self.outbox.sinks) == 1:
            return await self.outbox.backlog()
        return await self.outbox.reader(name).backlog()

    def _rate(self, name: str, written: int) -> float:
        """Lines per second written by sink `name` since the previous report."""
        now = time.monotonic()
        before = self._written.get(name)
        self._written[name] = (now, written)
        if before is None or now <= before[0]:
            return 0.0
        return round((written - before[1]) / (now - before[0]), 1)


def _causes(report: DeliveryReport) -> tuple[bool, bool]:
    """Which conditions hold; a delay that only grows is not logged again."""
    return report.filling is not None, report.late is not None
