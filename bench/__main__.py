"""The one benchmark command: every part against the targets (bench/targets.py), one table.

    .venv/bin/python -m bench [--quick] [--scale 10] [--runs 3] [--gateways 8]
        [--only alarm,throughput,modbus,footprint,startup,drain,campus,uplink,disk] [--no-report]

Starts the real pieces part by part (Mosquitto, InfluxDB, the simulators, the gateway as its
own process), repeats each measurement `--runs` times where the part allows, prints one table
(figure, median, min-max over the runs, the target, met or not), writes
`bench/results/summary[-quick].json` beside each part's own results, and regenerates
`docs/performance.md` and `docs/latency-vs-scale.png` from the results (`python -m
bench.report` does that step alone; a `--quick` run leaves a page made from a full run as it
is). `--scale N` is the large scale: alarm latency at 1x and
Nx (and 2x, 5x between for the plot), the drain's backlog at Nx. Exit status 0 when every
figure with a target meets it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import report
from bench.entry import write_results
from bench.machine import describe
from bench.parts import Options, Row
from bench.site import RESULTS
from bench.suite import PARTS, Outcome, part_rows, run_part, to_json


def print_table(rows: list[Row], outcomes: list[Outcome]) -> None:
    print()
    header = f"{'figure':<46}{'median':>12}{'min-max':>22}{'runs':>5}  {'target':<20}met"
    print(header)
    print("-" * len(header))
    for row in rows:
        spread = f"{_cell(row.low)}-{_cell(row.high)}" if row.runs > 1 else ""
        met = {True: "yes", False: "NO", None: ""}[row.met]
        print(
            f"{row.figure:<46}{_cell(row.median):>12}{spread:>22}{row.runs:>5}  "
            f"{row.target:<20}{met}"
        )
    for outcome in outcomes:
        note = f"; {outcome.error}" if outcome.error else ""
        print(
            f"  {outcome.name}: {outcome.seconds:.0f} s, exit statuses "
            f"{outcome.statuses or '-'}{note}"
        )


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def summary(
    options: Options,
    outcomes: list[Outcome],
    rows: dict[str, list[Row]],
    seconds: float,
    load_at_start: tuple[float, ...],
) -> dict[str, Any]:
    """The summary JSON: machine, options, each part's rows and how long it took."""
    return {
        "benchmark": "summary",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "quick": options.quick,
        "runs": options.runs,
        "scales": list(options.scales),
        "large_scale": options.large_scale,
        "gateways": options.gateways,
        "seconds": round(seconds, 1),
        "load_average_at_start": [round(value, 2) for value in load_at_start],
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        "parts": {outcome.name: to_json(outcome, rows[outcome.name]) for outcome in outcomes},
        "all_targets_met": all(row.met is not False for part in rows.values() for row in part),
    }


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Options]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="every part, once and short: under a minute"
    )
    parser.add_argument("--scale", type=int, help="the large scale (10)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (full run only)")
    parser.add_argument("--gateways", type=int, help="the campus's largest step (8; quick 2)")
    parser.add_argument("--only", help=f"some parts, comma-separated: {','.join(PARTS)}")
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="leave docs/performance.md and its plot as they are",
    )
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else list(PARTS)
    unknown = [name for name in only if name not in PARTS]
    if unknown or args.runs < 1 or (args.scale or 1) < 1:
        parser.error(f"unknown parts {unknown}" if unknown else "--runs and --scale must be >= 1")
    args.parts = only
    large = args.scale or 10
    if args.quick:
        scales = (1,) if args.scale is None else tuple(sorted({1, large}))
    else:
        scales = tuple(sorted({s for s in (1, 2, 5, 10) if s <= large} | {large}))
    return args, Options(
        quick=args.quick,
        runs=1 if args.quick else args.runs,
        scales=scales,
        large_scale=large,
        gateways=args.gateways or (2 if args.quick else 8),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args, options = parse_args(argv)
    began, load = time.monotonic(), os.getloadavg()
    outcomes: list[Outcome] = []
    try:
        with tempfile.TemporaryDirectory(prefix="firegw-bench-suite-") as folder:
            for name in args.parts:
                outcomes.append(run_part(PARTS[name], options, Path(folder)))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    rows = {outcome.name: part_rows(outcome, options) for outcome in outcomes}
    document = summary(options, outcomes, rows, time.monotonic() - began, load)
    out = RESULTS / ("summary-quick.json" if options.quick else "summary.json")
    write_results(out, document)
    print_table([row for part in rows.values() for row in part], outcomes)
    print(f"\n{document['seconds']:.0f} s in all; results: {out}")
    if options.quick and (RESULTS / "summary.json").exists():
        print(
            "docs/performance.md keeps the full run's figures (python -m bench.report "
            "--quick would write these instead)"
        )
    elif not args.no_report:
        for path in report.write(quick=options.quick):
            print(f"wrote {path}")
    return 0 if document["all_targets_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
