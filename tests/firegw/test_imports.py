"""`firegw run` loads what the site uses and nothing more: a box with 1 GB and a slow SD card
pays for every library in memory and in start-up time, whether it is used or not."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("aiohttp", "pymodbus", "serial", "influxdb_client", "cryptography")
"""aiohttp (about 14 MB: InfluxDB 1.x, the metrics server, the console), pymodbus and pyserial
(RS-485 lines only), influxdb-client (InfluxDB 2.x only), cryptography (an encrypting uplink
only)."""

LOADED = """
import json, sys
import firegw.main, firegw.service, gateway.runtime
from gateway.config import load_site
from gateway.runtime import Gateway
{setup}
print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(setup: str = "") -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", LOADED.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def loaded_packages(setup: str = "") -> set[str]:
    return {name.split(".")[0] for name in loaded_modules(setup)}


def test_the_gateway_and_its_commands_import_no_library_a_site_may_not_use() -> None:
    assert loaded_packages() & set(HEAVY) == set()


def test_the_report_s_code_is_loaded_by_a_report_only() -> None:
    report = {name for name in loaded_modules() if name.startswith("firegw.report.")}
    # its options, and the names they list; not the history, figures, page or charts
    assert report <= {f"firegw.report.{m}" for m in ("command", "history", "period", "words")}
    assert "firegw.report.command" in report


def test_a_sink_metrics_server_or_console_loads_aiohttp_when_asked_for() -> None:
    for name in (
        "from gateway.sinks import InfluxV1Sink",
        "from gateway.health import MetricsServer",
        "from firegw.console import Console",
    ):
        assert "aiohttp" in loaded_packages(name), name


def test_a_serial_line_loads_pymodbus_when_its_client_is_made() -> None:
    setup = (
        "from drivers.modbus.link import make_client\n"
        "from drivers.modbus.spec import ModbusEndpointSpec, SerialLine\n"
        "line = SerialLine(device='/dev/null')\n"
        "spec = ModbusEndpointSpec(id='bus', timeout=1.0, devices=(), serial=line)\n"
        "async def made(): make_client(spec, lambda: None)\n"
        "import asyncio; asyncio.run(made())"
    )
    assert "pymodbus" in loaded_packages(setup)
