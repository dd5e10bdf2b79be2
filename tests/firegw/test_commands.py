"""The `firegw` command as a user runs it: check, and run with a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firegw.main import _until_signal
from gateway.config import load_site
from gateway.outbox.store import lines_in_file
from simulators import SimulatedSite
from tests.servers import InfluxServer, MosquittoServer, free_port
from tests.sites import CONFIG, clinic_site, eventually

FIREGW = [sys.executable, "-m", "firegw"]


def firegw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FIREGW, *args], capture_output=True, text=True, timeout=60, check=False)


def test_check_summarises_the_reference_site() -> None:
    result = firegw("check", str(CONFIG / "hospital.yaml"))
    assert result.returncode == 0, result.stderr
    assert "4 buildings, 23 zones, 195 devices" in result.stdout
    assert "120 smoke detectors, 35 hydrants, 40 cameras" in result.stdout


def test_check_summarises_a_site_with_two_databases(tmp_path: Path) -> None:
    """`influxdb:` may be a list (README, "InfluxDB 1.x or 2.x, one or several")."""
    token = tmp_path / "influx-token"
    token.write_text("secret\n")
    text = (
        (CONFIG / "demo.yaml")
        .read_text()
        .replace("profiles: [profiles/]", f"profiles: [{CONFIG / 'profiles'}]")
    )
    text += (
        "influxdb:\n"
        "  - {name: local, api: v1, url: 'http://127.0.0.1:8086', database: firegw}\n"
        "  - {name: central, api: v2, url: 'https://influx.campus.example:8086', org: st-lukes,\n"
        f"     bucket: fire-safety, token: {{file: {token}}}}}\n"
    )
    site = tmp_path / "site.yaml"
    site.write_text(text)
    result = firegw("check", str(site))
    assert result.returncode == 0, result.stderr
    assert (
        "InfluxDB local http://127.0.0.1:8086 (v1), central https://influx.campus.example:8086 (v2)"
        in result.stdout
    )
    assert "secret" not in result.stdout


def test_check_of_a_broken_copy_exits_2_naming_every_problem(tmp_path: Path) -> None:
    text = (
        (CONFIG / "hospital.yaml")
        .read_text()
        .replace("profiles: [profiles/]", f"profiles: [{CONFIG / 'profiles'}]")
    )
    text = text.replace("zone: opd-1f-hall, profile", "zone: op-2f, profile", 1)
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    result = firegw("check", str(broken))
    assert result.returncode == 2
    assert result.stderr.strip() == "broken.yaml:65: devices[6].zone: unknown zone 'op-2f'"

    broken.write_text(text.replace("port: 1883,", "port: '1883x', colour: red,"))
    result = firegw("check", str(broken))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "broken.yaml:51: mqtt.port: expected a whole number, got '1883x'",
        "broken.yaml:51: mqtt.colour: unknown key",
    ]

    result = firegw("check", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert result.stderr.strip() == "missing.yaml: cannot read: No such file or directory"


def outbox_rows(path: Path) -> list[str]:
    return [line for _, line in lines_in_file(path)]


def device_and_time(line: str) -> tuple[str, int]:
    tags, _, rest = line.partition(" ")
    device = next(tag.split("=", 1)[1] for tag in tags.split(",") if tag.startswith("device="))
    return device, int(rest.rsplit(" ", 1)[1])


async def stop(process: asyncio.subprocess.Process) -> float:
    """SIGTERM, and how long the process took to exit."""
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), timeout=10)
    return time.monotonic() - sent


async def start_gateway(site: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *FIREGW,
        "run",
        str(site),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_sigterm_stops_within_5_s_and_the_outbox_is_sent_on_the_next_start(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxServer
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # no database yet: everything waits in the outbox
    site_file = clinic_site(tmp_path, mqtt_port=mosquitto.port, influx_url=dead, database="sigterm")
    site = load_site(site_file)
    async with SimulatedSite(site, seed=3):
        process = await start_gateway(site_file)
        await asyncio.sleep(4)
        assert process.returncode is None
        stopped_at = time.time_ns()
        took = await stop(process)
        assert process.returncode == 0, (await process.stderr.read()).decode()  # type: ignore[union-attr]
        assert took < 5.0

        accepted = {device_and_time(line) for line in outbox_rows(site.outbox_path)}
        assert len(accepted) > 20
        newest = max(t for _, t in accepted)
        assert stopped_at - newest < 2e9  # what was queued at SIGTERM was committed

        influxdb.create_database("sigterm")
        site_file.write_text(site_file.read_text().replace(dead, influxdb.url))
        process = await start_gateway(site_file)
        try:
            await eventually(
                lambda: accepted <= stored(influxdb),
                within=30,
                what="every reading accepted before SIGTERM in InfluxDB",
            )
        finally:
            await stop(process)


def stored(influxdb: InfluxServer) -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for measurement in ("smoke_detector", "hydrant_pressure", "camera", "gateway", "link"):
        for row in influxdb.query("sigterm", f'SELECT * FROM "{measurement}"'):
            found.add((str(row["device"]), int(row["time"])))  # type: ignore[call-overload]
    return found


@pytest.mark.parametrize("command", ["run", "simulate"])
def test_commands_refuse_a_broken_config_before_doing_anything(
    tmp_path: Path, command: str
) -> None:
    broken = tmp_path / "site.yaml"
    broken.write_text("site: {id: x}\n")
    result = firegw(command, str(broken))
    assert result.returncode == 2
    assert "site.yaml:1: site.name: required, but missing" in result.stderr


@pytest.mark.parametrize("broker", [[], ["--amqtt"]], ids=["mosquitto", "amqtt"])
def test_demo_shows_readings_alarms_and_a_fire(tmp_path: Path, broker: list[str]) -> None:
    site = clinic_site(tmp_path, mqtt_port=1)  # the demo brings its own broker and ports
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("steps:\n  - {at: 2s, fault: fire, device: SD-1F-01}\n")
    result = subprocess.run(
        [*FIREGW, "demo", str(site), "--scenario", str(scenario), "--duration", "7", *broker],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    last_frame = result.stdout.split("firegw demo: Demo clinic")[-1]
    assert "main Main building" in last_frame
    assert "5/5 up 1!" in last_frame
    assert "3/3 up 0." in last_frame
    assert re.search(r"SD-1F-01 +status +normal -> fire \(injected\)", last_frame)
    assert re.search(
        r"CRITICAL fire:SD-1F-01 main-1f-er \(injected\) +\[NOT ACKNOWLEDGED\]", last_frame
    )


def test_a_command_cancelled_from_inside_exits_1_and_says_it_was_no_signal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only SIGTERM or SIGINT is a stop asked for: a command whose own part cancels it ends
    with status 1 and an error in the log, not as if somebody had stopped it."""

    async def cancels_itself() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(5)

    async def ends() -> None:
        await asyncio.sleep(0)

    assert _until_signal(ends()) == 0
    assert _until_signal(cancels_itself()) == 1
    assert "cancelled from inside, with no signal" in caplog.text
    assert "stopped by" not in caplog.text
