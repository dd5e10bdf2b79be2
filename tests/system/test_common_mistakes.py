"""The common mistakes of an installation, each answered by one line that names the setting or
the device and what to check, said once and then quiet.

Each test makes the mistake as a new user would, against the real thing (InfluxDB with
authentication, a Modbus server that never answers, the simulated clinic, a closed pipe), and
pins the exact line. Elsewhere: a state folder the gateway cannot write
(tests/deploy/test_docker_image.py and tests/gateway/config/test_storage_and_secrets.py),
the TLS failures (tests/gateway/alarms/test_tls.py, tests/gateway/sinks/test_https.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.modbus import ModbusDriver
from gateway.config import load_site
from gateway.runtime.gateway import Gateway
from simulators import SimulatedSite
from tests.drivers.modbus.helpers import Collector, black_hole, device, endpoint, polling
from tests.servers import InfluxServer, MosquittoServer, free_port
from tests.sites import clinic_site, eventually

FIREGW = [sys.executable, "-m", "firegw"]
ADMIN = ("admin", "admin-password")


def firegw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FIREGW, *args], capture_output=True, text=True, timeout=60, check=False)


async def gateway_log(site: Path, *, wait_for: str, then: float = 6.0) -> list[str]:
    """`firegw run site` until a line containing `wait_for` appears (30 s at most), `then`
    seconds more; its log lines without their time."""
    process = await asyncio.create_subprocess_exec(
        *FIREGW, "--log-format", "journal", "run", str(site),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[str] = []

    async def read() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            lines.append(raw.decode().rstrip("\n"))

    reading = asyncio.create_task(read())
    try:
        await eventually(lambda: any(wait_for in line for line in lines), what=wait_for)
        await asyncio.sleep(then)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
        await reading
    return lines


def password_file(folder: Path, password: str) -> Path:
    path = folder / "influx-password"
    path.write_text(password + "\n")
    path.chmod(0o600)
    return path


def with_influx_login(site: Path, url: str, database: str, user: str, password: Path) -> Path:
    text = site.read_text().split("\ninfluxdb:")[0]
    site.write_text(
        text + f"\ninfluxdb: {{api: v1, url: '{url}', database: {database}, username: {user}, "
        f"password: {{file: {password}}}}}\n"
    )
    return site


@pytest.fixture
def secured_influxdb(tmp_path: Path) -> InfluxServer:
    server = InfluxServer(tmp_path / "influxdb", admin=ADMIN).start()
    server.statement("CREATE DATABASE firegw")
    server.statement("CREATE USER writer WITH PASSWORD 'writer-password'")
    server.statement('GRANT WRITE ON "firegw" TO "writer"')
    return server


async def test_influxdb_down_at_start_is_one_short_line(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    site = clinic_site(tmp_path, mqtt_port=mosquitto.port, influx_url=url)
    lines = await gateway_log(site, wait_for="no answer from")
    sinks = [line for line in lines if "gateway.sinks" in line]
    assert sinks == [
        f"<4>gateway.sinks.delivery: influxdb {url}: no answer from {url} (Connect call failed "
        f"('127.0.0.1', {port})); retrying in the background"
    ]


async def test_a_wrong_influxdb_password_names_the_setting_once(
    tmp_path: Path, mosquitto: MosquittoServer, secured_influxdb: InfluxServer
) -> None:
    url = secured_influxdb.url
    site = with_influx_login(
        clinic_site(tmp_path, mqtt_port=mosquitto.port),
        url,
        "firegw",
        "writer",
        password_file(tmp_path, "not-the-password"),
    )
    try:
        lines = await gateway_log(site, wait_for="authorization failed")
    finally:
        secured_influxdb.stop()
    assert [line for line in lines if "gateway.sinks" in line] == [
        f"<4>gateway.sinks.delivery: influxdb {url}: HTTP 401: authorization failed; the server "
        "refused the login of user 'writer': check the username and password of influxdb "
        "connection 'influxdb' in the site file; retrying in the background"
    ]


async def test_a_user_without_admin_rights_writes_to_the_existing_database_in_silence(
    tmp_path: Path, mosquitto: MosquittoServer, secured_influxdb: InfluxServer
) -> None:
    site = with_influx_login(
        clinic_site(tmp_path, mqtt_port=mosquitto.port),
        secured_influxdb.url,
        "firegw",
        "writer",
        password_file(tmp_path, "writer-password"),
    )
    try:
        async with SimulatedSite(load_site(site), seed=1):
            lines = await gateway_log(site, wait_for="running: 11 devices")
        rows = secured_influxdb.query("firegw", "SELECT count(pressure) FROM hydrant_pressure")
    finally:
        secured_influxdb.stop()
    assert rows
    assert rows[0]["count"] > 0
    assert [line for line in lines if "influx" in line] == []  # no "requires admin" any more


async def test_a_panel_that_accepts_connections_but_never_answers_is_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="drivers.modbus.link")
    async with black_hole() as port:
        driver = ModbusDriver([endpoint(port, device("SD-1", 1))])
        async with polling(driver, Collector()):
            stats = driver.stats["panel"]
            await eventually(lambda: stats.reconnects >= 2, within=120, what="2 reconnections")
    said = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "drivers.modbus.link"
    ]
    assert said == [
        ("INFO", f"endpoint panel: connected to 127.0.0.1:{port}"),
        (
            "WARNING",
            f"endpoint panel: 127.0.0.1:{port} accepts connections but answered none of 3 "
            "requests in a row: is its Modbus server working, and does it answer these unit "
            "ids? Reconnecting with backoff up to 30 s, quietly until it answers",
        ),
    ]


async def test_a_wrong_unit_id_says_what_to_check(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    site_file = clinic_site(tmp_path, mqtt_port=mosquitto.port)
    right = load_site(site_file)
    text = site_file.read_text()
    wrong = "source: {endpoint: main-panel, unit: 7, address: 16}"
    site_file.write_text(
        text.replace("source: {endpoint: main-panel, unit: 1, address: 16}", wrong)
    )
    site = load_site(site_file)
    async with SimulatedSite(right, seed=1):
        gateway = Gateway(site)
        task = asyncio.create_task(gateway.run())
        try:

            def last_error() -> str | None:
                health = {h.device: h for h in gateway.health.snapshot()}
                return health["SD-B1-01"].last_error

            await eventually(lambda: last_error() is not None, what="SD-B1-01's error")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert last_error() == (
        "exception 2 (illegal data address) reading input registers 16-18 of unit 7: the unit "
        "has no such registers: check the device's unit and address in the site file, and its "
        "profile's registers"
    )


async def test_a_camera_topic_typo_names_the_topic_it_waits_on(
    tmp_path: Path, mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    site_file = clinic_site(tmp_path, mqtt_port=mosquitto.port)
    right = load_site(site_file)
    text = site_file.read_text()
    site_file.write_text(text.replace("demo/nvr/CAM-1F-01/health", "demo/nvr/CAM-1F-01/healht"))
    site = load_site(site_file)
    async with SimulatedSite(right, seed=1):
        gateway = Gateway(site)
        task = asyncio.create_task(gateway.run())
        try:

            def camera() -> tuple[str, str | None]:
                health = {h.device: h for h in gateway.health.snapshot()}
                return health["CAM-1F-01"].state, health["CAM-1F-01"].last_error

            await eventually(lambda: camera()[0] == "lost", what="CAM-1F-01 lost")
            gateway.health.snapshot()  # looked at again: the line is not said twice
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert camera()[1] == (
        "nothing received on demo/nvr/CAM-1F-01/healht since start: is this the topic it "
        "publishes on?"
    )
    said = [r.getMessage() for r in caplog.records if r.name == "gateway.health.devices"]
    assert said == [
        "mqtt: 1 devices have received nothing since the gateway started (CAM-1F-01 on "
        "demo/nvr/CAM-1F-01/healht): check their topics in the site file against what they "
        "publish (mosquitto_sub -v -t '#')"
    ]


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("{env: FIREGW_TEST_NOWHERE}", "environment variable FIREGW_TEST_NOWHERE is not set"),
        (
            "{file: /run/secrets/nowhere}",
            "cannot read secret file '/run/secrets/nowhere': No such file or directory",
        ),
    ],
    ids=["variable", "file"],
)
def test_check_refuses_a_secret_that_is_not_there(
    tmp_path: Path, secret: str, message: str
) -> None:
    site = clinic_site(tmp_path, mqtt_port=1883)
    text = site.read_text().replace("port: 1883,", f"port: 1883, username: gw, password: {secret},")
    site.write_text(text)
    result = firegw("check", str(site))
    assert result.returncode == 2
    assert re.fullmatch(rf"site\.yaml:\d+: mqtt\.password: {re.escape(message)}\n", result.stderr)


@pytest.mark.parametrize("command", ["alarms", "status"])
def test_the_feed_commands_name_the_broker_they_cannot_reach(tmp_path: Path, command: str) -> None:
    port = free_port()
    site = clinic_site(tmp_path, mqtt_port=port)
    result = firegw(command, str(site))
    assert result.returncode == 1
    assert result.stderr == (
        f"broker 127.0.0.1:{port} unavailable ([Errno 111] Connection refused): is the broker "
        f"running there? It is set under mqtt: in {site}\n"
    )


def test_check_into_a_pipe_closed_early_ends_quietly() -> None:
    """`firegw check site.yaml | head -0`: the reader is gone before anything is written."""
    read, write = os.pipe()
    os.close(read)
    site = str(Path(__file__).resolve().parents[2] / "config" / "hospital.yaml")
    result = subprocess.run(
        [*FIREGW, "check", site], stdout=write, stderr=subprocess.PIPE, timeout=60, check=False
    )
    os.close(write)
    assert result.returncode == 141  # as if SIGPIPE had ended it, which is what `head` expects
    assert result.stderr == b""
