"""A process measured from outside, through /proc: CPU time, memory, threads.

`/proc/<pid>/stat` gives the CPU time the kernel charged to the process (user + system, every
thread, in clock ticks); `/proc/<pid>/status` gives its resident set now (`VmRSS`), the peak
of it since the process started (`VmHWM`, the figure `/usr/bin/time -v` calls maximum resident
set size) and its threads. Nothing runs inside the measured process.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
"""Clock ticks per second of `utime` and `stime` (100 on Linux): 10 ms of resolution."""


@dataclass(frozen=True)
class Sample:
    """One look at a process: when (monotonic), CPU seconds so far, memory in kB, threads."""

    at: float
    cpu_s: float
    rss_kb: int
    peak_rss_kb: int
    threads: int


def sample(pid: int) -> Sample:
    """The process's counters now; `ProcessLookupError` when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError as error:
        raise ProcessLookupError(pid) from error
    at = time.monotonic()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return Sample(
        at=at,
        cpu_s=(utime + stime) / TICK,
        rss_kb=_kb(values.get("VmRSS")),
        peak_rss_kb=_kb(values.get("VmHWM")),
        threads=int(values.get("Threads", "0").strip() or 0),
    )


def _kb(value: str | None) -> int:
    return int(value.split()[0]) if value else 0


def window(first: Sample, last: Sample) -> dict[str, Any]:
    """CPU share of one core between two samples of one process, and its memory at the end."""
    wall = last.at - first.at
    cpu = last.cpu_s - first.cpu_s
    return {
        "window_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 2) if wall > 0 else None,
        "rss_kb": last.rss_kb,
        "peak_rss_kb": last.peak_rss_kb,
        "threads": last.threads,
    }


class Watch:
    """Samples processes at the start and end of a window (and keeps the peak RSS seen)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.first: dict[str, Sample] = {}

    def start(self) -> None:
        self.first = {name: sample(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, dict[str, Any]]:
        """Each process's window figures, by name."""
        return {name: window(self.first[name], sample(pid)) for name, pid in self.pids.items()}
