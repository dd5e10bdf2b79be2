"""The gateway as a process of its own: start it, wait until it is online, stop it.

Two ways to run it: `bench.gateway_probe` (`firegw run` plus a JSON report on exit: the
gateway's own alarm latencies, stalls and collections), or plain `firegw run`
(`python -m firegw run`), with nothing of the benchmark inside, for figures measured from
outside (footprint, start-up and shutdown). Either runs in its own session, so Ctrl-C is the
benchmark's to pass on, and is stopped with SIGTERM (SIGKILL after `STOP_TIMEOUT`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bench.feed import FeedWatcher
from bench.site import REPO
from gateway.config import Site, load_site
from simulators import SimulatedSite

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

STARTED: list[asyncio.subprocess.Process] = []
"""Child processes, killed after the loop has ended if they somehow still run."""


def gateway_command(site_file: Path, report: Path | None) -> list[str]:
    """The probe with its report when `report` is given, else plain `firegw run`."""
    if report is not None:
        return [
            sys.executable,
            "-m",
            "bench.gateway_probe",
            str(site_file),
            "--report",
            str(report),
        ]
    return [sys.executable, "-m", "firegw", "run", str(site_file)]


@contextlib.asynccontextmanager
async def gateway_process(
    site_file: Path, log: Path, *, report: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The gateway in its own session, its output in `log`, stopped on exit."""
    process = await start(gateway_command(site_file, report), log)
    try:
        yield process
    finally:
        await stop_process(process)


async def start(command: list[str], log: Path, cwd: Path = REPO) -> asyncio.subprocess.Process:
    """Start `command` in the repository (or in `cwd`: ``python -m`` runs the code found
    there first), in a session of its own, output to `log`."""
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    STARTED.append(process)
    return process


async def stop_process(process: asyncio.subprocess.Process) -> float | None:
    """SIGTERM, then SIGKILL after `STOP_TIMEOUT`; seconds it took, None if it was gone."""
    if process.returncode is not None:
        return None
    started = time.monotonic()
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
    return time.monotonic() - started


def kill_leftovers() -> None:
    """SIGKILL every child still running (after an error or Ctrl-C ended the loop)."""
    for process in STARTED:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(process.pid, signal.SIGKILL)
                os.waitpid(process.pid, 0)


async def wait_until_running(
    process: asyncio.subprocess.Process, watcher: FeedWatcher, log: Path
) -> None:
    """Until the gateway's feed says `online`; fails with the log's tail if the process ends."""
    online = asyncio.ensure_future(watcher.online.wait())
    exited = asyncio.ensure_future(process.wait())
    try:
        done, _ = await asyncio.wait(
            {online, exited}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        online.cancel()
        exited.cancel()
    if online in done and online.exception() is None:
        return
    what = (
        "exited"
        if process.returncode is not None
        else f"was not online after {STARTUP_TIMEOUT:g} s"
    )
    raise RuntimeError(f"the gateway {what}; {log_tail(log)}")


def log_lines(log: Path) -> list[str]:
    """The lines of a process's log (none if it has not written one)."""
    return log.read_text(errors="replace").splitlines() if log.exists() else []


def log_tail(log: Path, lines: int = 20) -> str:
    """'its log ends with:' and the last `lines` lines, for an error message."""
    return "its log ends with:\n" + "\n".join(log_lines(log)[-lines:])


def warnings_in(log: Path) -> list[str]:
    """The WARNING and ERROR lines of a gateway log (the first 20)."""
    return [line for line in log_lines(log) if " WARNING " in line or " ERROR " in line][:20]


def read_report(report: Path) -> dict[str, Any]:
    """What the probe wrote on its way out; empty if it was killed before it could."""
    return json.loads(report.read_text()) if report.exists() else {}


async def cancel(task: asyncio.Future[Any]) -> None:
    """Cancel a task and wait until it has ended."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def start_simulators(
    stack: AsyncExitStack, write: Callable[[], Path], *, control_port: int | None = 0
) -> tuple[Path, Site, SimulatedSite]:
    """Write the site (`write()`) and start its simulators in this process, inside `stack`;
    a new site file on new ports if another process took one of them meanwhile."""
    for attempt in range(1, 4):
        site_file = write()
        site = load_site(site_file)
        try:
            simulated = await stack.enter_async_context(
                SimulatedSite(site, control_port=control_port)
            )
        except OSError as error:
            if attempt == 3:
                raise RuntimeError(f"the simulators cannot listen: {error}") from error
            print(f"  {error}; trying other ports", flush=True)
        else:
            return site_file, site, simulated
    raise AssertionError("unreachable")
