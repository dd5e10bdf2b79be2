"""What the gateway costs an SD card: bytes written per stored reading, and the outbox's bytes on
disk per reading buffered during a database outage; for this code and, in the same run on the
same machine, for an older revision of it.

    .venv/bin/python -m bench.disk_writes [--site config/hospital.yaml] [--scales 1,10]
        [--poll 1s] [--runs 3] [--warm-up 10] [--seconds 30] [--outage 60]
        [--before 7300848] [--quick] [--out bench/results/disk-writes[-quick].json]

Mosquitto and InfluxDB 1.x as processes of their own, the site's simulators in this process
(at each of `--scales`), and the gateway as plain `firegw run`, from this tree ("after") and
from `--before`, a git revision unpacked into a temporary folder with `git archive` (the
default is the last commit with an outbox of one row per line). Each run is a fresh gateway
with a fresh outbox:

- **healthy**: after `--warm-up` s, `/proc/<pid>/io` ``write_bytes`` (what the process made
  the kernel write to the disk: the outbox, its WAL and checkpoints, the alarm store, logs) at
  the start and the end of a `--seconds` window, divided by the readings delivered to InfluxDB
  meanwhile. The window opens and closes with `os.sync()`, so the bytes the kernel still held
  count where they were written.
- **outage**: the site's database is a port nobody listens on, so every reading waits in the
  outbox; after `--warm-up` s, the outbox file and its WAL are measured at the start and the
  end of `--outage` s: bytes added per line added.

Figures are medians over `--runs` (min and max beside them). Results in JSON; the suite
(`python -m bench`) prints them in its table and `bench.report` puts them in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bench import targets
from bench.entry import run_part
from bench.machine import describe, machine
from bench.outboxfile import progress
from bench.processes import gateway_command, log_tail, start, stop_process
from bench.site import DEFAULT_SITE, REPO, RESULTS, free_ports
from bench.stats import cell, spread
from bench.testbed import Testbed, open_testbed
from rules import parse_duration

BEFORE = "7300848"
"""The last commit whose outbox kept one row per line, committed every 50 ms."""
BYTES_PER_READING_TARGET = targets.DISK_BYTES_PER_READING_1X
KB_PER_S_TARGET = targets.DISK_KB_PER_S_1X
BYTES_ON_DISK_TARGET = targets.OUTBOX_BYTES_PER_BUFFERED_READING


def write_bytes(pid: int) -> int:
    """Bytes the process has caused to be written to storage (proc(5), ``write_bytes``)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/io has no write_bytes")


def on_disk(outbox: Path) -> int:
    """The outbox file and its WAL, in bytes (0 for what does not exist yet)."""
    sizes = (Path(f"{outbox}{suffix}") for suffix in ("", "-wal"))
    return sum(path.stat().st_size for path in sizes if path.exists())


def unpack_revision(revision: str, folder: Path) -> Path:
    """The tree of `revision` in `folder` (git archive), to run the gateway of that code."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def dead_database(site_file: Path) -> Path:
    """The run's site file with its database on a port nobody listens on: an outage."""
    document = yaml.safe_load(site_file.read_text())
    (port,) = free_ports(1)
    document["influxdb"] = {**document["influxdb"], "url": f"http://127.0.0.1:{port}"}
    path = site_file.with_name(f"{site_file.stem}-outage.yaml")
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=200))
    return path


async def healthy_run(
    bed: Testbed, name: str, code: Path, args: argparse.Namespace
) -> dict[str, Any]:
    files = await bed.fresh(name)
    process = await start(gateway_command(files.site_file, None), files.log, cwd=code)
    try:
        await asyncio.sleep(args.warm_up)
        if process.returncode is not None:
            raise RuntimeError(f"the gateway exited during warm-up; {log_tail(files.log)}")
        os.sync()
        before, written = progress(files.outbox), write_bytes(process.pid)
        await asyncio.sleep(args.seconds)
        os.sync()
        after, written = progress(files.outbox), write_bytes(process.pid) - written
    finally:
        await stop_process(process)
    delivered = (after.delivered or 0) - (before.delivered or 0) if before and after else 0
    if delivered <= 0:
        raise RuntimeError(f"nothing reached InfluxDB in {args.seconds} s; {log_tail(files.log)}")
    return {
        "bytes_written_per_reading": round(written / delivered, 1),
        "kb_written_per_s": round(written / args.seconds / 1000, 1),
        "readings_per_s": round(delivered / args.seconds, 1),
    }


async def outage_run(
    bed: Testbed, name: str, code: Path, args: argparse.Namespace
) -> dict[str, Any]:
    files = await bed.fresh(name)
    site_file = dead_database(files.site_file)
    process = await start(gateway_command(site_file, None), files.log, cwd=code)
    try:
        await asyncio.sleep(args.warm_up)
        if process.returncode is not None:
            raise RuntimeError(f"the gateway exited during warm-up; {log_tail(files.log)}")
        before, size = progress(files.outbox), on_disk(files.outbox)
        await asyncio.sleep(args.outage)
        after, size = progress(files.outbox), on_disk(files.outbox) - size
    finally:
        await stop_process(process)
    added = after.accepted - before.accepted if before and after else 0
    if added <= 0:
        raise RuntimeError(f"nothing was buffered in {args.outage} s; {log_tail(files.log)}")
    return {
        "bytes_on_disk_per_buffered_reading": round(size / added, 1),
        "buffered_per_s": round(added / args.outage, 1),
    }


async def run_benchmark(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    codes = {"after": REPO}
    if args.before:
        codes["before"] = unpack_revision(args.before, folder / "before")
    scales: dict[str, Any] = {}
    for scale in args.scales:
        (folder / f"x{scale}").mkdir()
        async with open_testbed(
            folder / f"x{scale}", args.site, scale=scale, poll=args.poll
        ) as bed:
            print(bed.describe(), flush=True)
            figures: dict[str, Any] = {}
            for code_name, code in codes.items():
                runs = []
                for number in range(1, args.runs + 1):
                    run = await healthy_run(bed, f"{code_name}-healthy{number}", code, args)
                    if scale == 1:
                        run |= await outage_run(bed, f"{code_name}-outage{number}", code, args)
                    print(f"  x{scale} {code_name} run {number}: {run}", flush=True)
                    runs.append(run)
                figures[code_name] = {
                    key: spread([run[key] for run in runs]) for key in runs[0]
                } | {"runs": runs}
            scales[f"x{scale}"] = figures
    return results(args, scales)


def results(args: argparse.Namespace, scales: dict[str, Any]) -> dict[str, Any]:
    after = scales.get("x1", {}).get("after", {})
    written = after.get("bytes_written_per_reading", {}).get("median")
    rate = after.get("kb_written_per_s", {}).get("median")
    kept = after.get("bytes_on_disk_per_buffered_reading", {}).get("median")
    return {
        "benchmark": "disk_writes",
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {**machine("mosquitto"), **describe()},
        "site": str(args.site),
        "poll_interval_s": args.poll,
        "before": args.before,
        "warm_up_s": args.warm_up,
        "window_s": args.seconds,
        "outage_s": args.outage,
        "scales": scales,
        "targets": {
            "bytes_written_per_reading": BYTES_PER_READING_TARGET,
            "kb_written_per_s": KB_PER_S_TARGET,
            "bytes_on_disk_per_buffered_reading": BYTES_ON_DISK_TARGET,
        },
        "pass": written is not None
        and kept is not None
        and rate is not None
        and written < BYTES_PER_READING_TARGET
        and rate < KB_PER_S_TARGET
        and kept < BYTES_ON_DISK_TARGET,
    }


def print_table(document: dict[str, Any]) -> None:
    print()
    print(
        f"disk writes: {document['site']}, poll {document['poll_interval_s']:g} s, windows of "
        f"{document['window_s']:g} s (healthy) and {document['outage_s']:g} s (outage)"
    )
    print(f"{'figure':<48}{'before':>12}{'after':>12}{'ratio':>9}")
    print("-" * 81)
    for scale, codes in document["scales"].items():
        for key in (
            "bytes_written_per_reading",
            "kb_written_per_s",
            "readings_per_s",
            "bytes_on_disk_per_buffered_reading",
        ):
            after = codes["after"].get(key, {}).get("median")
            before = codes.get("before", {}).get(key, {}).get("median")
            if after is None:
                continue
            ratio = f"{before / after:.1f}x" if before and after else ""
            print(f"{scale + ' ' + key:<48}{cell(before):>12}{cell(after):>12}{ratio:>9}")
    print(f"targets met: {'PASS' if document['pass'] else 'FAIL'}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.disk_writes", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE)
    parser.add_argument(
        "--scales", default="1,10", help="site scales, comma-separated (default 1,10)"
    )
    parser.add_argument("--poll", default="1s")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm-up", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--outage", type=float, default=60.0)
    parser.add_argument(
        "--before", default=BEFORE, help="git revision to compare with ('' for none)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="one short run at 1x, for checking it works"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    args.scales = [int(scale) for scale in args.scales.split(",")]
    args.poll = parse_duration(args.poll)
    if args.quick:
        args.scales, args.runs, args.warm_up, args.seconds, args.outage = [1], 1, 5.0, 10.0, 15.0
    if args.out is None:
        args.out = RESULTS / f"disk-writes{'-quick' if args.quick else ''}.json"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_part(
        "disk_writes", args.out, lambda folder: run_benchmark(args, folder), print_table
    )


if __name__ == "__main__":
    sys.exit(main())
