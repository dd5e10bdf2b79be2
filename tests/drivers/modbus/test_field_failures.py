"""Failures that users of other Modbus gateways report, each a test here against the real
simulators over real sockets (Modbus TCP on loopback, or RTU over a socat pty pair).

- Polling stops for good after a long network outage (an uncaught exception in the poll
  loop): `test_polling_resumes_at_full_rate_after_an_outage_longer_than_the_backoff_cap`.
- A panel restarted by its owner is never reconnected:
  `test_a_rebooted_panel_is_polled_again_within_the_reconnect_bound`.
- Retry settings silently raised to hidden minimums (hidden retries multiply the timeout):
  `test_the_configured_timeout_is_the_timeout_observed` (TCP and RTU: 0.2 s configured, 0.2 s
  waited), and `test_check_refuses_a_timeout_instead_of_clamping_it`.
- One offline device blocks all the others on its line or endpoint: kept beside their
  concept, in `test_modbus_isolation.py`
  `test_a_faulty_detector_is_read_alone_and_its_neighbours_keep_their_rate` (a silent or
  failing detector on a TCP panel) and `test_a_hung_endpoint_does_not_slow_the_others` (a
  hung endpoint beside a healthy one), and in `test_modbus_rtu.py`
  `test_a_silent_unit_times_out_while_the_others_answer` (a silent unit on an RS-485 bus):
  the others keep >= 80% of their rate.
- Many RTU units on one port time out because requests overlap:
  `test_many_units_on_one_bus_never_overlap` (16 detectors on 8 units, two poll groups, the
  line's traffic read from socat's hex dump: one request, then its whole answer, every time).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from core.reading import Quality
from drivers.modbus import ModbusDriver
from drivers.modbus.link import RECONNECT_CAP, RECONNECT_INITIAL
from gateway.config import Site, load_site
from gateway.runtime.wiring import modbus_endpoints
from simulators import SimulatedSite
from tests.cable import Cable
from tests.drivers.modbus.helpers import POLL, Collector, all_good, polling
from tests.servers import SerialPair, free_port
from tests.sites import panel_site

DETECTORS = [f"SD-1-{n}" for n in range(1, 7)]
JITTER = 1.2  # the reconnect backoff stretches each delay by up to 20%


def tcp_panel(
    folder: Path,
    port: int,
    timeout: str = "300ms",
    units: tuple[int, ...] = (1,),
    detectors: int = 6,
) -> Site:
    """Detectors SD-<unit>-<n> on one Modbus TCP endpoint at 127.0.0.1:`port`, every 100 ms."""
    line = f"{{id: panel, host: 127.0.0.1, port: {port}, timeout: {timeout}}}"
    return load_site(panel_site(folder, line, units=units, detectors=detectors))


async def test_polling_resumes_at_full_rate_after_an_outage_longer_than_the_backoff_cap(
    tmp_path: Path,
) -> None:
    panel_port = free_port()
    served = tcp_panel(tmp_path, panel_port)
    (tmp_path / "gateway").mkdir()
    async with SimulatedSite(served), Cable(panel_port) as cable:
        [spec] = modbus_endpoints(tcp_panel(tmp_path / "gateway", cable.port))
        driver, sink = ModbusDriver([spec]), Collector()
        async with polling(driver, sink) as task:
            await sink.next(DETECTORS[-1], all_good)
            cable.cut = True
            await sink.next(DETECTORS[0], lambda b: b["status"].quality is Quality.TIMEOUT)
            await asyncio.sleep(RECONNECT_CAP + 5)  # every backoff reaches its cap
            lost = len(sink.batches)
            cable.cut = False
            mended = time.monotonic()
            for detector in DETECTORS:
                await sink.next(detector, all_good, within=JITTER * RECONNECT_CAP + 10)
            back_after = time.monotonic() - mended
            rates = await sink.good_rates(DETECTORS, 3.0)
            assert not task.done()
    assert not any(all(r.good for r in batch) for batch in sink.batches[lost - 20 : lost])
    assert back_after <= JITTER * RECONNECT_CAP + 10
    assert all(rate >= 0.8 / POLL for rate in rates.values()), rates
    assert driver.stats["panel"].reconnects >= 2


REBOOT = 3.0


async def test_a_rebooted_panel_is_polled_again_within_the_reconnect_bound(
    tmp_path: Path,
) -> None:
    """The bound: reconnect attempts follow the backoff (1 s, doubling, up to 20% longer), so
    a panel down for `REBOOT` s is reconnected within JITTER x (REBOOT + 1 s) of its return,
    and polled one interval later; 2 s more for a loaded machine."""
    site = tcp_panel(tmp_path, free_port())
    [spec] = modbus_endpoints(site)
    driver, sink = ModbusDriver([spec]), Collector()
    async with polling(driver, sink) as task:
        async with SimulatedSite(site):
            await sink.next(DETECTORS[-1], all_good)
        await sink.next(DETECTORS[0], lambda b: not all_good(b))
        await asyncio.sleep(REBOOT)
        async with SimulatedSite(site):
            started = time.monotonic()
            bound = JITTER * (REBOOT + RECONNECT_INITIAL) + POLL + 2.0
            for detector in DETECTORS:
                await sink.next(detector, all_good, within=bound + 5)
            back_after = time.monotonic() - started
            assert not task.done()
    assert back_after <= bound, back_after
    assert driver.stats["panel"].reconnects == 1


@asynccontextmanager
async def silent_second_unit(site: Site, serial_port: str | None) -> AsyncIterator[Collector]:
    """The site's two detectors (SD-1-1, SD-2-1) simulated, SD-2-1 silent, both polled."""
    ports = {"panel": serial_port} if serial_port else None
    [spec] = modbus_endpoints(site)
    driver, sink = ModbusDriver([spec]), Collector()
    async with SimulatedSite(site, serial_ports=ports) as simulated, polling(driver, sink):
        await sink.next("SD-1-1", all_good)
        await simulated.apply("silent", "SD-2-1")
        yield sink


def observed_timeouts(sink: Collector) -> list[float]:
    """Seconds from SD-1-1's delivery to the timeout of SD-2-1, polled right after it in the
    same cycle: the time the driver waited for the silent unit."""
    gaps = []
    for index in range(1, len(sink.batches)):
        before, after = sink.batches[index - 1][0], sink.batches[index][0]
        if (before.device, before.quality, after.device, after.quality) == (
            "SD-1-1",
            Quality.GOOD,
            "SD-2-1",
            Quality.TIMEOUT,
        ):
            gaps.append(sink.arrived[index] - sink.arrived[index - 1])
    return gaps


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
async def test_the_configured_timeout_is_the_timeout_observed(
    tmp_path: Path, serial_pair: SerialPair, transport: str
) -> None:
    if transport == "tcp":
        site, serial_port = tcp_panel(tmp_path, free_port(), "200ms", (1, 2), 1), None
    else:
        line = (
            f"{{id: panel, serial: {serial_pair.gateway}, baudrate: 19200, parity: N, "
            "stopbits: 2, timeout: 200ms}"
        )
        site = load_site(panel_site(tmp_path, line, units=(1, 2), detectors=1))
        serial_port = serial_pair.simulator
    async with silent_second_unit(site, serial_port) as sink:
        while len(observed_timeouts(sink)) < 3:
            await sink.next("SD-2-1", lambda b: b["status"].quality is Quality.TIMEOUT, within=15)
    timeouts = observed_timeouts(sink)
    assert all(0.2 <= seconds < 0.35 for seconds in timeouts), timeouts  # not 2 x, not 3 s
    silent = await _last(sink, "SD-2-1")
    assert silent == "no response within 0.2 s"


async def _last(sink: Collector, device: str) -> str | None:
    return next(b[0].detail for b in reversed(sink.batches) if b[0].device == device)


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        ("0s", "must be more than 0, got '0s'"),
        ("-1s", "expected a duration such as 10s or 2m, got '-1s'"),
    ],
)
def test_check_refuses_a_timeout_instead_of_clamping_it(
    tmp_path: Path, timeout: str, message: str
) -> None:
    line = f"{{id: panel, host: 127.0.0.1, port: 1502, timeout: {timeout}}}"
    site = panel_site(tmp_path, line)
    result = subprocess.run(
        [sys.executable, "-m", "firegw", "check", str(site)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"{site.name}:7: modbus.endpoints[0].timeout: {message}"


class SpiedSerialPair(SerialPair):
    """A socat pty pair that also writes every chunk it passes on to its log, in hex, with
    its direction: `>` from the gateway's end, `<` from the simulator's."""

    def launch(self, command: list[str]) -> None:
        super().launch([command[0], "-x", *command[1:]])

    def traffic(self) -> list[tuple[str, bytes]]:
        """The chunks so far, as (direction, bytes)."""
        text = self.log.read_text(errors="replace")
        chunks = re.findall(
            r"^([<>]) \S+ \S+\s+length=\d+[^\n]*\n((?: [0-9a-f]{2})+)", text, re.MULTILINE
        )
        return [(way, bytes.fromhex(data)) for way, data in chunks]


def turns(traffic: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Consecutive chunks in one direction joined: who talked, and what, turn by turn."""
    joined: list[tuple[str, bytes]] = []
    for way, data in traffic:
        if joined and joined[-1][0] == way:
            joined[-1] = (way, joined[-1][1] + data)
        else:
            joined.append((way, data))
    return joined


UNITS = tuple(range(1, 9))


async def test_many_units_on_one_bus_never_overlap(tmp_path: Path) -> None:
    with SpiedSerialPair(tmp_path / "serial") as pair:
        pair.start()
        line = (
            f"{{id: panel, serial: {pair.gateway}, baudrate: 19200, parity: N, stopbits: 2, "
            "timeout: 300ms}"
        )
        file = panel_site(tmp_path, line, units=UNITS, detectors=2)
        text = file.read_text()  # units 5-8 in a second poll group, sharing the line
        for unit in UNITS[4:]:
            text = text.replace(
                f"profile: panel-detector, source: {{endpoint: panel, unit: {unit},",
                f"profile: panel-detector, poll_interval: 150ms, source: {{endpoint: panel, "
                f"unit: {unit},",
            )
        file.write_text(text)
        site = load_site(file)
        [spec] = modbus_endpoints(site)
        assert len({d.poll_interval for d in spec.devices}) == 2
        driver, sink = ModbusDriver([spec]), Collector()
        async with (
            SimulatedSite(site, serial_ports={"panel": pair.simulator}),
            polling(driver, sink),
        ):
            for unit in UNITS:
                await sink.next(f"SD-{unit}-2", all_good)
            rates = await sink.good_rates([f"SD-{u}-1" for u in UNITS], 4.0)
        await asyncio.sleep(0.2)  # socat's last lines
        talk = turns(pair.traffic())
    stats = driver.stats["panel"]
    assert (stats.timeouts, stats.exceptions, stats.disconnected) == (0, 0, 0)
    assert all(all(r.good for r in batch) for batch in sink.batches)
    assert all(
        rate >= 0.8 / (0.1 if u <= 4 else 0.15)
        for u, rate in zip(UNITS, rates.values(), strict=True)
    ), rates
    requests = [data for way, data in talk if way == ">"]
    answers = [data for way, data in talk if way == "<"]
    assert len(requests) >= 200
    assert all(len(request) == 8 for request in requests)  # one request per turn
    assert [way for way, _ in talk[:2]] == [">", "<"]
    for request, answer in zip(requests, answers, strict=False):
        count = int.from_bytes(request[4:6], "big")
        assert (answer[0], len(answer)) == (request[0], 5 + 2 * count)  # its whole answer
    assert len(requests) - len(answers) <= 1  # the last request may be cut off by the stop
