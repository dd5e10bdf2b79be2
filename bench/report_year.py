"""How long `firegw report --year` takes on a year of the reference site's alarm events.

    .venv/bin/python -m bench.report_year [--runs 3] [--per-day 150]

Starts a real InfluxDB 1.x, writes a year (2025) of `config/hospital.yaml`'s alarm events
into it (`bench.report_history`: 150 activations a day and a weekly flood, about 210,000
events), then runs the whole command, `python -m firegw report SITE --year 2025`, as a person
would, `--runs` times, and reports the median, fastest and slowest wall time against the
target (under 10 s). The readings' per-minute figures are summed up by the server and are
not part of this figure (the year holds no readings). Writes bench/results/report-year.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from bench.report_history import YearOfAlarms
from bench.servers import InfluxDB
from bench.site import REPO, RESULTS
from gateway.config import load_site

TARGET_S = 10.0
DATABASE = "firegw"
YEAR = 2025
WRITE_ATTEMPTS = 3


def _site(folder: Path, url: str) -> Path:
    """The reference site pointing at the benchmark's database, in Shanghai's time zone."""
    source = REPO / "config" / "hospital.yaml"
    document = yaml.safe_load(source.read_text())
    document["profiles"] = [str((source.parent / p).resolve()) for p in document["profiles"]]
    document["outbox"] = {"path": str(folder / "outbox.sqlite")}
    document["influxdb"] = {"api": "v1", "url": url, "database": DATABASE}
    document["report"] = {"timezone": "Asia/Shanghai"}
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=200, allow_unicode=True))
    return path


def _write(url: str, lines: list[str], chunk: int = 50_000) -> int:
    """Write `lines` until the database holds every one; how many times it took.

    Debian's influxd 1.6.7~rc0 now and then answers 204 to a fast run of large writes and
    keeps only part of them (a week or two of the year missing, a different one each time).
    Writing a point again overwrites it, so the lines are written again until the count is
    right: the report is timed on the whole year, never on part of it.
    """
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        for first in range(0, len(lines), chunk):
            body = "\n".join(lines[first : first + chunk]).encode()
            request = urllib.request.Request(
                f"{url}/write?db={DATABASE}&precision=ns", data=body, method="POST"
            )
            with urllib.request.urlopen(request, timeout=120):
                pass
        if _stored(url) == len(lines):
            return attempt
    raise SystemExit(f"InfluxDB at {url} keeps {_stored(url)} of the {len(lines)} events written")


def _stored(url: str) -> int:
    query = urllib.parse.urlencode({"db": DATABASE, "q": "SELECT count(alarm_id) FROM alarm_event"})
    with urllib.request.urlopen(f"{url}/query?{query}", timeout=120) as answer:
        body = json.loads(answer.read())
    series = body["results"][0].get("series") or [{"values": [[0, 0]]}]
    return int(series[0]["values"][0][1])


async def measure(runs: int, per_day: int) -> dict[str, object]:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="firegw-bench-report-") as name:
        folder = Path(name)
        async with InfluxDB() as influx:
            await influx.create_database(DATABASE)
            site_file = _site(folder, influx.url)
            lines = list(YearOfAlarms(load_site(site_file), YEAR, per_day).lines())
            started = time.perf_counter()
            writes = await asyncio.to_thread(_write, influx.url, lines)
            written = time.perf_counter() - started
            times = []
            for run in range(runs):
                command = [sys.executable, "-m", "firegw", "report", str(site_file)]
                command += ["--year", str(YEAR), "--out", str(folder / f"report-{run}")]
                started = time.perf_counter()
                await asyncio.to_thread(
                    subprocess.run, command, check=True, cwd=REPO, capture_output=True
                )
                times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {
        "command": f".venv/bin/python -m bench.report_year --runs {runs} --per-day {per_day}",
        "load_average_at_start": [round(n, 2) for n in load],
        "events": len(lines),
        "per_day": per_day,
        "write_s": round(written, 2),
        "writes": writes,
        "runs": runs,
        "median_s": round(median, 2),
        "min_s": round(min(times), 2),
        "max_s": round(max(times), 2),
        "target_s": TARGET_S,
        "pass": median < TARGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=150)
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.runs, args.per_day))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "report-year.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"report of a year ({result['events']:,} alarm events): median {result['median_s']} s "
        f"(min {result['min_s']}, max {result['max_s']}, {result['runs']} runs), "
        f"target under {TARGET_S:g} s: {'pass' if result['pass'] else 'FAIL'}"
    )
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
