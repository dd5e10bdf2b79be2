"""The period a report covers: `--from`/`--to` dates, a `--month` or a `--year`, in the site's
time zone, with the days and months it is split into."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Period", "PeriodError", "period_from", "zone_named"]

_NS = 1_000_000_000


class PeriodError(ValueError):
    """A period that cannot be read: the message names the option and the value."""


@dataclass(frozen=True)
class Period:
    """From `start` (included) to `end` (excluded), local midnights in `zone`."""

    start: dt.datetime
    end: dt.datetime

    @property
    def zone(self) -> dt.tzinfo:
        return self.start.tzinfo or dt.UTC

    @property
    def start_ns(self) -> int:
        return int(self.start.timestamp()) * _NS

    @property
    def end_ns(self) -> int:
        return int(self.end.timestamp()) * _NS

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / _NS

    @property
    def first_day(self) -> str:
        """ "2026-03-01": the period's first day."""
        return self.start.date().isoformat()

    @property
    def last_day(self) -> str:
        """ "2026-03-31": its last day, included."""
        return (self.end - dt.timedelta(days=1)).date().isoformat()

    @property
    def label(self) -> str:
        """ "2026-03-01 to 2026-03-31": the dates people read, the last one included."""
        return f"{self.first_day} to {self.last_day}"

    def months(self) -> list[str]:
        """Every month the period touches, as "2026-03"."""
        found: list[str] = []
        for day in self.days():
            month = day.strftime("%Y-%m")
            if not found or found[-1] != month:
                found.append(month)
        return found

    def days(self) -> Iterator[dt.datetime]:
        """Each local midnight from the start to the last day."""
        day = self.start
        while day < self.end:
            yield day
            day = _midnight(day.date() + dt.timedelta(days=1), self.zone)

    def month_of(self, at_ns: int) -> str:
        return self.local(at_ns).strftime("%Y-%m")

    def local(self, at_ns: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(at_ns / _NS, self.zone)

    def clipped(self, now_ns: int) -> Period:
        """The period, ended at the next midnight after `now_ns` if it reaches past it."""
        if self.end_ns <= now_ns:
            return self
        tomorrow = self.local(now_ns).date() + dt.timedelta(days=1)
        return Period(self.start, max(self.start, _midnight(tomorrow, self.zone)))


def period_from(
    *,
    since: str | None = None,
    until: str | None = None,
    month: str | None = None,
    year: str | None = None,
    zone: dt.tzinfo | None = None,
) -> Period:
    """The period the options name; `until` is the last day included.

    Raises:
        PeriodError: a date that cannot be read, an end before the start, or options that
            do not go together (give --from and --to, or --month, or --year).
    """
    tz = zone or _machine_zone()
    given = [name for name, value in (("--month", month), ("--year", year)) if value]
    if since or until:
        given.append("--from/--to")
    if len(given) != 1:
        raise PeriodError("give --from DATE --to DATE, or --month YYYY-MM, or --year YYYY")
    if month:
        first = _parse(month, "--month", r"\d{4}-\d{2}", "%Y-%m")
        after = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return Period(_midnight(first, tz), _midnight(after, tz))
    if year:
        first = _parse(year, "--year", r"\d{4}", "%Y")
        return Period(_midnight(first, tz), _midnight(dt.date(first.year + 1, 1, 1), tz))
    if not since or not until:
        raise PeriodError("give both --from DATE and --to DATE (the last day, included)")
    start = _parse(since, "--from", r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d")
    last = _parse(until, "--to", r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d")
    if last < start:
        raise PeriodError(f"--to {until} is before --from {since}")
    return Period(_midnight(start, tz), _midnight(last + dt.timedelta(days=1), tz))


def _parse(text: str, option: str, pattern: str, form: str) -> dt.date:
    example = {"%Y-%m": "2026-03", "%Y": "2026"}.get(form, "2026-03-31")
    if re.fullmatch(pattern, text):
        try:
            return dt.datetime.strptime(text, form).date()
        except ValueError:
            pass
    raise PeriodError(f"{option}: expected a date such as {example}, got {text!r}")


def _midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


def _machine_zone() -> dt.tzinfo:
    local = dt.datetime.now().astimezone().tzinfo
    return local if local is not None else dt.UTC


def zone_named(name: str | None) -> dt.tzinfo:
    """The site's `report.timezone`, or the machine's own."""
    return zoneinfo.ZoneInfo(name) if name else _machine_zone()
