"""`firegw report CONFIG --month 2026-03`: the department's safety report for a period.

Writes one HTML page (with its plots) and a CSV file of every table into a folder, in
Chinese or English, from the history in InfluxDB or, for a site without one, from the
gateway's own stores. docs/report.md says what each figure counts.

Only the command's options are here: the report's own modules (`firegw.report.make`, a
megabyte of code) are imported when a report is asked for, not by every `firegw` command, and
not by the running gateway's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from firegw.report.history import STORES
from firegw.report.words import LANGUAGES
from gateway.config import Site

__all__ = ["add_report_command"]


def add_report_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `firegw report` on the CLI's subcommands."""
    report = commands.add_parser(
        "report", help="the safety report for a period: HTML with plots, and CSV of each table"
    )
    report.add_argument("config", type=Path)
    report.add_argument("--from", dest="since", metavar="DATE", help="first day, 2026-01-01")
    report.add_argument("--to", dest="until", metavar="DATE", help="last day (included)")
    report.add_argument("--month", metavar="YYYY-MM", help="one month, 2026-03")
    report.add_argument("--year", metavar="YYYY", help="one year, 2026")
    report.add_argument("--lang", choices=LANGUAGES, default="zh-CN", help="default zh-CN")
    report.add_argument(
        "--source",
        metavar="NAME",
        help=f"an influxdb connection's name, or {STORES} (the gateway's own files); "
        "default: report.history.connection, else the first connection, else the stores",
    )
    report.add_argument(
        "--out", type=Path, help="the folder to write (default report-<site>-<period>)"
    )
    report.set_defaults(command=_run_report, log_level="warning")


def _run_report(site: Site, args: argparse.Namespace) -> int:
    from firegw.report.make import run_report  # noqa: PLC0415  # the report's code, only for it

    return run_report(site, args)
