"""Modbus RTU over a virtual serial pair (socat): the simulator on one end, the gateway's
driver or mbpoll on the other, several unit ids on one bus.

The line runs 8N2 (no parity, two stop bits: the Modbus RTU alternative to 8E1). A pty has no
parity: recent Linux kernels keep PARENB cleared on it and fail a tcsetattr whose only change
is setting PARENB with EINVAL, so pyserial cannot open a pty at 8E1, while 8N2 changes CSTOPB.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.reading import Quality
from drivers.modbus.poller import EndpointPoller
from gateway.config import Site, load_site
from gateway.runtime.wiring import modbus_endpoints
from simulators import SimulatedSite
from tests.drivers.modbus.helpers import Collector, all_good, polling
from tests.servers import SerialPair, require_binary
from tests.sites import panel_site

MBPOLL = "/usr/bin/mbpoll"
UNITS = (1, 2, 3)


def bus(folder: Path, pair: SerialPair) -> Site:
    """Three units of two detectors each on one RS-485 line, 9600 baud 8N2, polled every 200 ms."""
    line = (
        f"{{id: panel, serial: {pair.gateway}, baudrate: 9600, parity: N, stopbits: 2, "
        "timeout: 300ms}"
    )
    return load_site(panel_site(folder, line, units=UNITS, detectors=2, poll_interval="200ms"))


def simulate(site: Site, pair: SerialPair) -> SimulatedSite:
    return SimulatedSite(site, seed=3, serial_ports={"panel": pair.simulator})


async def test_units_on_one_bus_decode(tmp_path: Path, serial_pair: SerialPair) -> None:
    site = bus(tmp_path, serial_pair)
    [spec] = modbus_endpoints(site)
    assert spec.serial is not None
    assert spec.serial.device == serial_pair.gateway
    poller, sink = EndpointPoller(spec), Collector()
    async with simulate(site, serial_pair) as simulated, polling(poller, sink):
        for unit in UNITS:
            batch = await sink.next(f"SD-{unit}-2", all_good)
            state = simulated.state(f"SD-{unit}-2")["values"]
            assert batch["status"].value == "normal"
            assert batch["temperature"].value == pytest.approx(state["temperature"], abs=0.5)
        await simulated.apply("fire", "SD-2-1")
        fire = await sink.next("SD-2-1", lambda b: b["status"].value == "fire")
        assert all_good(fire)
    assert poller.stats.requests <= poller.stats.cycles * len(UNITS)  # one request per unit
    assert (poller.stats.timeouts, poller.stats.exceptions) == (0, 0)


async def mbpoll(device: str, unit: int) -> tuple[int, str]:
    """mbpoll as an independent RTU master: input registers 1-3 (1-based) of `unit`, once."""
    process = await asyncio.create_subprocess_exec(
        require_binary(MBPOLL),
        "-m",
        "rtu",
        "-b",
        "9600",
        "-P",
        "none",
        "-s",
        "2",
        "-a",
        str(unit),
        "-t",
        "3",
        "-r",
        "1",
        "-c",
        "3",
        "-o",
        "0.5",
        device,
        "-1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    return process.returncode or 0, output.decode()


async def test_mbpoll_reads_the_same_registers(tmp_path: Path, serial_pair: SerialPair) -> None:
    site = bus(tmp_path, serial_pair)
    async with simulate(site, serial_pair) as simulated:
        await simulated.apply("fire", "SD-2-1")
        code, output = await mbpoll(serial_pair.gateway, 2)
        state = simulated.state("SD-2-1")["values"]
    assert code == 0, output
    values = {
        int(ref): int(value)
        for ref, value in re.findall(r"^\[(\d+)\]:\s+(-?\d+)", output, re.MULTILINE)
    }
    assert values[1] == 2  # fire
    assert abs(values[2] * 0.01 - state["obscuration"]) < 0.5
    assert abs(values[3] * 0.1 - state["temperature"]) < 1.0


async def test_a_silent_unit_times_out_while_the_others_answer(
    tmp_path: Path, serial_pair: SerialPair
) -> None:
    site = bus(tmp_path, serial_pair)
    [spec] = modbus_endpoints(site)
    poller, sink = EndpointPoller(spec), Collector()
    async with simulate(site, serial_pair) as simulated, polling(poller, sink):
        await sink.next("SD-3-2", all_good)
        await simulated.apply("silent", "SD-2-1")
        await simulated.apply("silent", "SD-2-2")
        silent = await sink.next("SD-2-1", lambda b: not all_good(b))
        assert {(r.quality, r.detail) for r in silent.values()} == {
            (Quality.TIMEOUT, "no response within 0.3 s")
        }
        before = {unit: sink.count(f"SD-{unit}-1", Quality.GOOD) for unit in (1, 3)}
        await asyncio.sleep(2.0)
        answered = {u: sink.count(f"SD-{u}-1", Quality.GOOD) - n for u, n in before.items()}
    assert all(count >= 8 for count in answered.values()), answered  # 10 polls in 2 s
    assert poller.stats.connects == 1  # the line stayed open: silence is the unit's, not ours
    assert sink.count("SD-2-1", Quality.TIMEOUT) <= 3


FIREGW = [sys.executable, "-m", "firegw"]


async def test_firegw_simulate_serves_a_serial_endpoint_on_the_port_given(
    tmp_path: Path, serial_pair: SerialPair
) -> None:
    site = bus(tmp_path, serial_pair)
    process = await asyncio.create_subprocess_exec(
        *FIREGW,
        "simulate",
        str(site.path),
        "--serial",
        f"panel={serial_pair.simulator}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        first = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        code, output = await mbpoll(serial_pair.gateway, 3)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
    assert first.decode().startswith(f"Modbus RTU panel: {serial_pair.simulator}, units [1, 2, 3]")
    assert code == 0, output
    assert re.search(r"^\[1\]:\s+0$", output, re.MULTILINE), output  # status normal


@pytest.mark.parametrize(
    ("serial", "message"),
    [
        pytest.param(
            [],
            "site.yaml: endpoint 'panel' is on the serial line {gw}, which the "
            "gateway opens: give the simulator the other end of the line with --serial "
            "panel=PATH (a second adapter, or a socat pty pair)",
            id="missing",
        ),
        pytest.param(
            ["--serial", "panel=/dev/null", "--serial", "plant=/dev/ttyS1"],
            "site.yaml: --serial plant: the site has no Modbus endpoint 'plant'",
            id="unknown",
        ),
        pytest.param(
            ["--serial", "panel"],
            "argument --serial: expected ENDPOINT=PATH, got 'panel'",
            id="malformed",
        ),
    ],
)
def test_firegw_simulate_refuses_a_serial_endpoint_without_its_port(
    tmp_path: Path, serial: list[str], message: str
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    line = "{id: panel, serial: /dev/ttyUSB7, baudrate: 9600, parity: N, stopbits: 2}"
    site = panel_site(folder, line).rename(folder / "site.yaml")
    result = subprocess.run(
        [*FIREGW, "simulate", str(site), *serial],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message.format(gw="/dev/ttyUSB7") in result.stderr
