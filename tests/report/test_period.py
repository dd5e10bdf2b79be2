"""The report's period: the options people give, and the errors for the ones that make none."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from firegw.report.period import PeriodError, period_from

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("options", "first", "after"),
    [
        ({"month": "2026-03"}, "2026-03-01", "2026-04-01"),
        ({"month": "2026-12"}, "2026-12-01", "2027-01-01"),
        ({"year": "2026"}, "2026-01-01", "2027-01-01"),
        ({"since": "2026-01-01", "until": "2026-06-30"}, "2026-01-01", "2026-07-01"),
        ({"since": "2026-03-05", "until": "2026-03-05"}, "2026-03-05", "2026-03-06"),
    ],
)
def test_a_period_runs_from_local_midnight_to_local_midnight(
    options: dict[str, str], first: str, after: str
) -> None:
    period = period_from(zone=SHANGHAI, **options)
    assert period.start == dt.datetime.fromisoformat(first).replace(tzinfo=SHANGHAI)
    assert period.end == dt.datetime.fromisoformat(after).replace(tzinfo=SHANGHAI)
    assert period.start_ns == int(period.start.timestamp()) * 1_000_000_000


def test_months_and_days_follow_the_site_time_zone() -> None:
    period = period_from(since="2026-02-27", until="2026-03-02", zone=SHANGHAI)
    assert period.months() == ["2026-02", "2026-03"]
    assert len(list(period.days())) == 4
    # 2026-02-28 17:00 UTC is already March 1st in Shanghai
    at = int(dt.datetime(2026, 2, 28, 17, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
    assert period.month_of(at) == "2026-03"
    assert period.label == "2026-02-27 to 2026-03-02"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give --from DATE --to DATE, or --month YYYY-MM, or --year YYYY"),
        ({"month": "2026-03", "year": "2026"}, "give --from DATE --to DATE, or --month"),
        ({"month": "March"}, "--month: expected a date such as 2026-03, got 'March'"),
        ({"month": "2026-13"}, "--month: expected a date such as 2026-03, got '2026-13'"),
        ({"year": "26"}, "--year: expected a date such as 2026, got '26'"),
        ({"since": "2026-01-01"}, "give both --from DATE and --to DATE"),
        (
            {"since": "2026-02-30", "until": "2026-03-01"},
            "--from: expected a date such as 2026-03-31, got '2026-02-30'",
        ),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "--to 2026-03-01 is before --from"),
    ],
)
def test_options_that_make_no_period_are_refused_with_the_reason(
    options: dict[str, str], message: str
) -> None:
    with pytest.raises(PeriodError) as refused:
        period_from(zone=dt.UTC, **options)
    assert str(refused.value).startswith(message)


def test_a_period_that_has_not_ended_ends_tomorrow_at_midnight() -> None:
    period = period_from(year="2026", zone=dt.UTC)
    now = int(dt.datetime(2026, 5, 10, 13, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
    assert period.clipped(now).end == dt.datetime(2026, 5, 11, tzinfo=dt.UTC)
