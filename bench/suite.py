"""Runs the parts of the benchmark one after the other, each as a child process, and gathers
their JSON results.

What each part is asked for, full (and with `--quick`):

- alarm: 20 fires per run, `--runs` runs at 1x and at the large scale, one run at the scales
  between (quick: 2 fires, one run at 1x);
- throughput: `--runs` runs of 10 s and a 5 s profiled run (one run of 1 s, 1 s profiled);
- modbus: `--runs` runs of 5 s per measurement (one run of 1 s, 2 s for the whole site);
- footprint: `--runs` windows of 30 s after 10 s of warm-up (one of 5 s after 2 s);
- startup: 5 start-stop cycles (one);
- drain: `bench.drain --scale <large> --runs 1`, 60 minutes of backlog (`--quick --minutes 0.5`);
- campus: steps 1, 2, 4, ... `--gateways`, 3 fires and 20 s each (steps 1 and 2, one fire,
  3 s, 1 s to settle);
- uplink: 60 fires to pysiaalarm over TCP with AES (12).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import parts
from bench.parts import Document, Invocation, Options, Row
from bench.site import REPO, RESULTS

Plan = Callable[[Options, Path], list[Invocation]]
Rows = Callable[[dict[str, list[Document]], Options], list[Row]]


def _alarm(options: Options, folder: Path) -> list[Invocation]:
    fires = "2" if options.quick else "20"
    calls = []
    for scale in options.scales:
        runs = options.runs if scale in (1, options.large_scale) else 1
        name = "alarm-latency" + (f"-x{scale}" if scale > 1 else "")
        for run in range(1, runs + 1):
            out = folder / f"{name}-{run}.json"
            calls.append(
                Invocation(
                    "alarm_latency",
                    (
                        "--scale",
                        str(scale),
                        "--fires",
                        fires,
                        "--seed",
                        str(run),
                        "--out",
                        str(out),
                    ),
                    out,
                    f"alarm-x{scale}",
                )
            )
    return calls


def _throughput(options: Options, folder: Path) -> list[Invocation]:
    length = (
        ("--runs", "1", "--seconds", "1", "--profile-seconds", "1")
        if options.quick
        else ("--runs", str(options.runs), "--seconds", "10", "--profile-seconds", "5")
    )
    out = folder / "throughput.json"
    return [Invocation("throughput", (*length, "--out", str(out)), out, "throughput")]


def _modbus(options: Options, folder: Path) -> list[Invocation]:
    length = (
        ("--seconds", "1", "--site-seconds", "2")
        if options.quick
        else ("--seconds", "5", "--site-seconds", "5")
    )
    return [
        Invocation(
            "modbus_efficiency",
            (*length, "--out", str(folder / f"modbus-{run}.json")),
            folder / f"modbus-{run}.json",
            "modbus",
        )
        for run in range(1, (1 if options.quick else options.runs) + 1)
    ]


def _modbus_endpoints(options: Options, folder: Path) -> list[Invocation]:
    length = ("--quick",) if options.quick else ("--runs", str(options.runs), "--seconds", "60")
    scales = sorted({1, options.large_scale})
    return [
        Invocation(
            "modbus_endpoints",
            (*length, "--scale", str(scale), "--out", str(folder / f"endpoints-x{scale}.json")),
            folder / f"endpoints-x{scale}.json",
            f"endpoints-x{scale}",
        )
        for scale in scales
    ]


def _endpoints_results(call: Invocation, quick: bool) -> Path:
    return RESULTS / f"modbus-{call.key}{'-quick' if quick else ''}.json"


def _footprint(options: Options, folder: Path) -> list[Invocation]:
    length = (
        ("--runs", "1", "--warm-up", "2", "--seconds", "5")
        if options.quick
        else ("--runs", str(options.runs), "--warm-up", "10", "--seconds", "30")
    )
    out = folder / "footprint.json"
    return [Invocation("footprint", (*length, "--out", str(out)), out, "footprint")]


def _startup(options: Options, folder: Path) -> list[Invocation]:
    out = folder / "startup.json"
    runs = "1" if options.quick else "5"
    return [Invocation("startup", ("--runs", runs, "--out", str(out)), out, "startup")]


def _drain(options: Options, folder: Path) -> list[Invocation]:
    out = folder / "drain.json"
    length = ("--quick", "--minutes", "0.5") if options.quick else ("--runs", "1")
    return [
        Invocation(
            "drain", (*length, "--scale", str(options.large_scale), "--out", str(out)), out, "drain"
        )
    ]


def _disk(options: Options, folder: Path) -> list[Invocation]:
    out = folder / "disk-writes.json"
    length = ("--quick",) if options.quick else ("--runs", str(options.runs))
    return [Invocation("disk_writes", (*length, "--out", str(out)), out, "disk")]


def _campus(options: Options, folder: Path) -> list[Invocation]:
    out = folder / "campus.json"
    length = (
        ("--steps", "1,2", "--fires", "1", "--seconds", "3", "--settle", "1")
        if options.quick
        else ("--gateways", str(options.gateways), "--fires", "3", "--seconds", "20")
    )
    return [Invocation("campus", (*length, "--out", str(out)), out, "campus")]


def _uplink(options: Options, folder: Path) -> list[Invocation]:
    out = folder / "uplink.json"
    length = ("--quick",) if options.quick else ("--fires", "60")
    return [Invocation("uplink_latency", (*length, "--out", str(out)), out, "uplink")]


@dataclass(frozen=True)
class Part:
    """A part of the suite: its child processes, where its results go, and its rows."""

    name: str
    plan: Plan
    rows: Rows
    results: Callable[[Invocation, bool], Path | None]
    """Where the part's last results are copied in bench/results/ (None: nowhere)."""


def _canonical(name: str) -> Callable[[Invocation, bool], Path]:
    return lambda call, quick: RESULTS / f"{name}{'-quick' if quick else ''}.json"


def _alarm_results(call: Invocation, quick: bool) -> Path:
    name = call.out.name.rsplit("-", 1)[0]  # alarm-latency[-x<k>]
    return RESULTS / f"{name}{'-quick' if quick else ''}.json"


PARTS = {
    part.name: part
    for part in (
        Part("alarm", _alarm, parts.alarm_rows, _alarm_results),
        Part("throughput", _throughput, parts.throughput_rows, _canonical("throughput")),
        Part("modbus", _modbus, parts.modbus_rows, _canonical("modbus-efficiency")),
        Part("endpoints", _modbus_endpoints, parts.endpoints_rows, _endpoints_results),
        Part("footprint", _footprint, parts.footprint_rows, _canonical("footprint")),
        Part("startup", _startup, parts.startup_rows, _canonical("startup")),
        Part("drain", _drain, parts.drain_rows, lambda call, quick: None),  # its files are its own
        Part("campus", _campus, parts.campus_rows, _canonical("campus")),
        Part("uplink", _uplink, parts.uplink_rows, _canonical("uplink")),
        Part("disk", _disk, parts.disk_rows, _canonical("disk-writes")),
    )
}


@dataclass
class Outcome:
    """What one part gave: its documents by key, its exit statuses and how long it took."""

    name: str
    documents: dict[str, list[Document]]
    statuses: list[int]
    seconds: float
    error: str | None = None


def run_part(part: Part, options: Options, folder: Path) -> Outcome:
    """Every invocation of `part` in turn; the last result of each key is also copied to
    bench/results/ under the part's own name (not the drain's: bench/drain.py writes those)."""
    began = time.monotonic()
    documents: dict[str, list[Document]] = {}
    statuses = []
    calls = part.plan(options, folder)
    missing = {call.module for call in calls if not (REPO / "bench" / f"{call.module}.py").exists()}
    if missing:
        return Outcome(part.name, {}, [], 0.0, f"bench/{min(missing)}.py is not there (yet)")
    for call in calls:
        command = [sys.executable, "-m", f"bench.{call.module}", *call.args]
        print(f"\n$ python {' '.join(command[1:])}", flush=True)
        statuses.append(subprocess.run(command, cwd=REPO, check=False).returncode)
        if statuses[-1] in (130, -2):
            raise KeyboardInterrupt
        if call.out.exists():
            documents.setdefault(call.key, []).append(json.loads(call.out.read_text()))
            copy = part.results(call, options.quick)
            if copy is not None:
                shutil.copyfile(call.out, copy)
    error = None if documents else f"no results (exit statuses {statuses})"
    return Outcome(part.name, documents, statuses, time.monotonic() - began, error)


def part_rows(outcome: Outcome, options: Options) -> list[Row]:
    """The rows of a part's results (none when it gave none)."""
    return PARTS[outcome.name].rows(outcome.documents, options) if outcome.documents else []


def to_json(outcome: Outcome, rows: list[Row]) -> dict[str, Any]:
    """A part's entry in the summary (the alarm part also gives its series by scale)."""
    document = {
        "seconds": round(outcome.seconds, 1),
        "exit_statuses": outcome.statuses,
        "error": outcome.error,
        "rows": [vars(row) for row in rows],
    }
    if outcome.name == "alarm":
        document["series"] = parts.alarm_series(outcome.documents)
    return document
