"""`firegw run` as systemd runs it: a notification socket, a watchdog, the journal.

The gateway runs as a process with `NOTIFY_SOCKET` and `WATCHDOG_USEC` set, as systemd sets
them for a `Type=notify` unit with `WatchdogSec=`, and a real datagram socket listening. It
must say READY=1 once it runs, feed the watchdog while it runs, and say STOPPING=1 on SIGTERM.
Its standard error is a file whose device and inode are in `JOURNAL_STREAM`, as journald's
stream is: the lines must carry syslog priorities and no time of their own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import sys
import urllib.request
from pathlib import Path

from gateway.config import load_site
from simulators import SimulatedSite
from tests.gateway.runtime.test_systemd import Listener
from tests.servers import MosquittoServer, free_port
from tests.sites import clinic_site, eventually

FIREGW = [sys.executable, "-m", "firegw"]


def healthz(port: int) -> object:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
        return json.load(answer)


def texts(listener: Listener) -> list[str]:
    return [text for _, text in listener.received]


async def test_run_says_ready_feeds_the_watchdog_and_says_stopping(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    site_file = clinic_site(tmp_path, mqtt_port=mosquitto.port)
    listener = Listener(str(tmp_path / "notify"))
    log = tmp_path / "journal.log"
    metrics = free_port()
    try:
        async with SimulatedSite(load_site(site_file), seed=4):
            with log.open("w") as stream:
                status = os.fstat(stream.fileno())
                process = await asyncio.create_subprocess_exec(
                    *FIREGW,
                    "run",
                    str(site_file),
                    "--metrics",
                    f"127.0.0.1:{metrics}",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=stream,
                    env={
                        **os.environ,
                        "NOTIFY_SOCKET": str(tmp_path / "notify"),
                        "WATCHDOG_USEC": "2000000",
                        "JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}",
                        "PYTHONUNBUFFERED": "1",
                    },
                )
            try:
                await eventually(
                    lambda: any(t.startswith("READY=1") for t in texts(listener)),
                    what="READY=1",
                )
                ready = texts(listener)[0]
                assert ready == "READY=1\nSTATUS=running: 11 devices"
                await eventually(lambda: len(listener.pings()) >= 4, what="4 watchdog pings")
                health = await asyncio.to_thread(healthz, metrics)
                assert health == {"ok": True, "problems": []}
            finally:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 30)
        assert process.returncode == 0
        assert texts(listener)[-1] == "STOPPING=1\nSTATUS=stopping"
        pings = listener.pings()
        assert max(b - a for a, b in itertools.pairwise(pings)) < 2.0  # WatchdogSec=2
    finally:
        listener.close()
    lines = log.read_text().splitlines()
    assert lines
    assert all(re.match(r"<[2-7]>[a-z_.]+: ", line) for line in lines), lines[:5]
    assert "<6>gateway.runtime.gateway: gateway for Demo clinic running: 11 devices" in lines
    assert not any(re.search(r"\d\d:\d\d:\d\d", line.split(": ", 1)[0]) for line in lines)


async def test_json_lines_on_request_and_the_time_with_its_zone_otherwise() -> None:
    result = await asyncio.create_subprocess_exec(
        *FIREGW, "--log-format", "json", "--version", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await result.communicate()
    assert re.fullmatch(rb"firegw \d+\.\d+\.\d+\S*\n", out)
    code = (
        "import logging, sys; from firegw.logs import LogForm, setup_logging;"
        "setup_logging('info', LogForm(sys.argv[1]));"
        "logging.getLogger('gateway.alarms.events').warning('alarm raised: %s', 'fire:SD-1')"
    )
    lines = {}
    for form in ("json", "text"):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, form, stderr=asyncio.subprocess.PIPE
        )
        _, err = await process.communicate()
        lines[form] = err.decode().strip()
    entry = json.loads(lines["json"])
    assert entry["level"] == "warning"
    assert entry["logger"] == "gateway.alarms.events"
    assert entry["message"] == "alarm raised: fire:SD-1"
    assert entry["time"].endswith("+00:00")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d WARNING gateway\.alarms\.events: "
        r"alarm raised: fire:SD-1",
        lines["text"],
    )
