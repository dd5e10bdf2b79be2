"""What a result was measured on: the machine, the servers' versions and the code."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.site import REPO

MOSQUITTO = "/usr/sbin/mosquitto"
INFLUXD = "/usr/bin/influxd"


def machine(broker: str) -> dict[str, Any]:
    """uname, CPUs, Python, the broker (with its version for Mosquitto) and the git state."""
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if broker == "mosquitto" and mosquitto:  # `mosquitto -h` prints its version first
        broker = f"{broker} ({output(mosquitto, '-h').splitlines()[0]})"
    return {
        "uname": output("uname", "-a"),
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": sys.version,
        "broker": broker,
        "git_commit": output("git", "-C", str(REPO), "rev-parse", "HEAD"),
        "git_changes": output("git", "-C", str(REPO), "status", "--porcelain").splitlines(),
    }


def describe() -> dict[str, Any]:
    """The machine as docs/performance.md names it: CPU model, cores, RAM, OS, versions."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mosquitto": _first_line(MOSQUITTO, "-h"),
        "influxd": _first_line(INFLUXD, "version"),
        "pymodbus": _package_version("pymodbus"),
        "git_commit": output("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
    }


def source_digest() -> str:
    """One hash of every Python file the gateway and simulators run: same hash, same code."""
    digest = hashlib.sha256()
    for package in ("drivers", "gateway", "rules", "simulators", "bench"):
        for path in sorted((REPO / package).rglob("*.py")):
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def output(*command: str) -> str:
    """What a command prints (stdout, else stderr), or why it could not run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"unavailable: {error}"
    return (done.stdout or done.stderr).strip()


def _first_line(*command: str) -> str:
    lines = output(*command).splitlines()
    return lines[0] if lines else "unavailable"


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.platform()


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"
