"""Making the department's safety report for a period: read the history, work out the figures,
write the page and the CSV files (`firegw report`, registered by `firegw.report.command`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from pathlib import Path

from firegw.report.coverage import hydrant_limits
from firegw.report.document import document_of
from firegw.report.figures import Figures, figures_of
from firegw.report.history import HistoryError
from firegw.report.page import page_of
from firegw.report.period import Period, PeriodError, period_from, zone_named
from firegw.report.scope import Scope
from firegw.report.sources import history_source
from firegw.report.tables import write_csv
from firegw.report.words import Words
from gateway.config import Site

__all__ = ["make_report", "read_figures", "run_report"]

EXIT_USAGE = 2


def run_report(site: Site, args: argparse.Namespace) -> int:
    """The command: 0 with the report written, 1 when the history cannot be read or the
    report not written, 2 for options that do not make a period."""
    try:
        period = period_from(
            since=args.since,
            until=args.until,
            month=args.month,
            year=args.year,
            zone=zone_named(site.config.report.timezone),
        )
    except PeriodError as error:
        print(f"firegw report: {error}", file=sys.stderr)
        return EXIT_USAGE
    out = args.out or Path(f"report-{site.config.site.id}-{_slug(period)}")
    try:
        written = make_report(site, period, out, lang=args.lang, source=args.source)
    except HistoryError as error:
        print(f"{args.config}: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"firegw report: cannot write {out}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"{written[0]}  ({len(written) - 1} CSV files beside it)")
    return 0


def read_figures(site: Site, period: Period, source: str | None = None) -> Figures:
    """Every figure of `period` (ended today at the latest) from the site's history."""
    period = period.clipped(time.time_ns())
    history = history_source(site, source).read(period, hydrant_limits(site))
    return figures_of(Scope.of(site, period, history))


def make_report(
    site: Site, period: Period, out: Path, *, lang: str = "zh-CN", source: str | None = None
) -> list[Path]:
    """Write `out/report.html` and a CSV per table; the files written, the page first.

    Raises:
        HistoryError: the history cannot be read.
    """
    figures = read_figures(site, period, source)
    words = Words(lang)
    made = dt.datetime.now(period.zone).strftime("%Y-%m-%d %H:%M")
    document = document_of(figures, words, made)
    out.mkdir(parents=True, exist_ok=True)
    page = out / "report.html"
    page.write_text(page_of(document, lang, words("contents")), encoding="utf-8")
    return [page, *(write_csv(table, out) for table in document.tables)]


def _slug(period: Period) -> str:
    return re.sub(r"[^0-9A-Za-z-]+", "_", period.label.replace(" to ", "_"))
