"""Which requests the Modbus driver sends: specs that refuse bad values, the plan that merges
the points of every device polled together, and what a cycle costs on a real server."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pymodbus.datastore import ModbusDeviceContext, ModbusSparseDataBlock

from core.reading import Quality
from drivers.modbus import (
    ModbusDevice,
    ModbusEndpointSpec,
    ModbusProfile,
    Parity,
    SerialLine,
    longest_exchange,
)
from drivers.modbus.merge import plan_reads, plan_requests
from drivers.modbus.poller import EndpointPoller
from drivers.modbus.wire import exchange_time
from gateway.config import load_site
from gateway.runtime.wiring import modbus_endpoints
from simulators import SimulatedSite
from tests.drivers.modbus.helpers import (
    DETECTOR,
    FIRE,
    HYDRANT,
    CycleCost,
    ServerFactory,
    all_good,
    device,
    endpoint,
    polling,
    unit,
)
from tests.servers import free_port
from tests.sites import CONFIG, eventually, panel_site


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda: ModbusDevice(
                id="sd-01", unit=300, address=0, profile=DETECTOR, poll_interval=1
            ),
            "device sd-01: unit 300 is not within 0..255",
            id="unit",
        ),
        pytest.param(
            lambda: ModbusDevice(id="sd-01", unit=1, address=0, profile=DETECTOR, poll_interval=0),
            "device sd-01: poll_interval 0 must be > 0",
            id="interval",
        ),
        pytest.param(
            lambda: ModbusDevice(
                id="sd-01", unit=1, address=65534, profile=DETECTOR, poll_interval=1
            ),
            "device sd-01: address 65534 + profile panel-detector offset 2"
            " is beyond register 65535",
            id="address",
        ),
        pytest.param(
            lambda: ModbusEndpointSpec(id="p", host="h", port=502, timeout=0, devices=()),
            "endpoint p: timeout 0 must be > 0",
            id="timeout",
        ),
        pytest.param(
            lambda: ModbusEndpointSpec(
                id="p", host="h", port=502, timeout=1, devices=(device("a", 1), device("a", 2))
            ),
            "endpoint p: device 'a' is listed twice",
            id="duplicate",
        ),
    ],
)
def test_specs_reject_bad_values(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make()


def test_plan_merges_each_table_into_one_read() -> None:
    blocks = plan_reads(device("sd-01", 1, address=30))
    assert [(b.function, b.address, b.count) for b in blocks] == [("input_register", 30, 3)]
    hydrant = plan_reads(device("hp-01", 1, HYDRANT, address=7))
    assert [(b.address, b.count, len(b.points)) for b in hydrant] == [(7, 1, 2)]


def test_plan_splits_spans_longer_than_a_request() -> None:
    wide = ModbusProfile.model_validate(
        {
            "id": "wide",
            "protocol": "modbus",
            "kind": "smoke_detector",
            "points": [
                {"name": "first", "function": "holding_register", "address": 0},
                {
                    "name": "last_of_first",
                    "function": "holding_register",
                    "address": 123,
                    "type": "u32",
                },
                {"name": "far", "function": "holding_register", "address": 125},
                {"name": "alarm", "function": "coil", "address": 4, "type": "bool"},
                {"name": "bit_far", "function": "coil", "address": 2010, "type": "bool"},
            ],
        }
    )
    wide_device = ModbusDevice(id="w", unit=1, address=0, profile=wide, poll_interval=1)
    blocks = plan_reads(wide_device, merge_gap=125)
    assert [(b.function, b.address, b.count) for b in blocks] == [
        ("coil", 4, 1),
        ("coil", 2010, 1),
        ("holding_register", 0, 125),
        ("holding_register", 125, 1),
    ]
    default = plan_reads(wide_device)  # gaps of more than 8 registers are not read across
    assert [(b.function, b.address, b.count) for b in default] == [
        ("coil", 4, 1),
        ("coil", 2010, 1),
        ("holding_register", 0, 1),
        ("holding_register", 123, 3),
    ]


def clustered_profile() -> ModbusProfile:
    """40 registers in three clusters (0-14, 40-54, 100-109): three requests, not 40."""
    addresses = [*range(15), *range(40, 55), *range(100, 110)]
    points = [{"name": f"r{a}", "function": "input_register", "address": a} for a in addresses]
    raw = {"id": "clustered", "protocol": "modbus", "kind": "smoke_detector", "points": points}
    return ModbusProfile.model_validate(raw)


def test_plan_joins_neighbours_within_the_gap_and_the_request_limit() -> None:
    panel = [device(f"sd-{n}", 1, address=4 * n) for n in range(36)]  # the reference panel
    requests = plan_requests(panel)
    assert [(r.address, r.count, len(r.devices)) for r in requests] == [(0, 123, 31), (124, 19, 5)]
    assert [r.count for r in plan_requests(panel, merge_gap=0)] == [3] * 36
    other_unit = [*panel[:2], device("sd-u2", 2)]
    assert [(r.unit, r.address, r.count) for r in plan_requests(other_unit)] == [
        (1, 0, 7),
        (2, 0, 3),
    ]
    around = plan_requests([*panel[:2], *panel[3:6]], avoid=[panel[2]])  # faulty at 8-10
    assert [(r.address, r.count) for r in around] == [(0, 7), (12, 11)]


def test_reference_site_needs_a_few_requests_per_cycle() -> None:
    site = load_site(CONFIG / "hospital.yaml")
    endpoints = modbus_endpoints(site)
    per_device = {e.id: sum(len(plan_reads(d)) for d in e.devices) for e in endpoints}
    merged = {e.id: len(plan_requests(e.devices, e.merge_gap)) for e in endpoints}
    assert sum(per_device.values()) == 155  # 120 detectors and 35 hydrants, one read each
    assert merged["opd-panel"] == 2  # 36 detectors at 0, 4, ... 140: 0-122 and 124-142
    assert max(merged.values()) == 2  # a panel, or an I/O endpoint with two units
    assert sum(merged.values()) == 14


async def test_a_clustered_profile_costs_three_requests_per_poll(
    modbus_server: ServerFactory,
) -> None:
    server = await modbus_server({1: unit(list(range(110)))})
    spec = endpoint(server.port, device("wide", 1, clustered_profile()))
    poller = EndpointPoller(spec)
    cost = CycleCost(poller, "wide")
    async with polling(poller, cost):
        batch = await cost.collector.next("wide", all_good)
        await eventually(lambda: len(cost.notes) >= 6, what="six polls")
    assert {r.point: r.value for r in batch.values()}["r104"] == 104
    assert len(batch) == 40
    assert cost.per_cycle() == {3}


async def test_a_gateway_rejecting_reads_across_a_gap_gets_separate_reads(
    modbus_server: ServerFactory,
) -> None:
    registers = {0: FIRE, 1: 0, 2: 0, 6: 0, 7: 0, 8: 0}  # 3-5 unmapped
    server = await modbus_server({1: ModbusDeviceContext(ir=ModbusSparseDataBlock(registers))})
    poller = EndpointPoller(
        endpoint(server.port, device("sd-01", 1), device("sd-02", 1, address=6))
    )
    cost = CycleCost(poller, "sd-02")
    async with polling(poller, cost):
        assert (await cost.collector.next("sd-01"))["status"].value == "fire"
        assert all_good(await cost.collector.next("sd-02"))
        await eventually(lambda: len(cost.notes) >= 6, what="six cycles")
    assert poller.stats.exceptions == 1  # the first, merged read only
    assert cost.per_cycle(1) == {2}
    assert cost.collector.count("sd-01", Quality.EXCEPTION) == 0


async def test_a_panel_of_36_detectors_costs_two_requests_per_cycle(tmp_path: Path) -> None:
    site = load_site(
        panel_site(
            tmp_path,
            f"{{id: panel, host: 127.0.0.1, port: {free_port()}, timeout: 300ms}}",
            detectors=36,
        )
    )
    [spec] = modbus_endpoints(site)
    poller = EndpointPoller(spec)
    cost = CycleCost(poller, "SD-1-36")
    async with SimulatedSite(site), polling(poller, cost):
        for n in (1, 31, 32, 36):
            assert all_good(await cost.collector.next(f"SD-1-{n}"))
        await eventually(lambda: len(cost.notes) >= 6, what="six cycles")
    assert cost.per_cycle() == {2}
    assert poller.stats.polls >= 36 * 5


def test_a_reads_time_on_the_wire_counts_every_character_and_silence() -> None:
    """Modbus over Serial Line 2.5.1.1: 11-bit characters, 3.5 characters of silence a frame."""
    points = [{"name": f"r{i}", "function": "holding_register", "address": i} for i in range(125)]
    points.append({"name": "flags", "function": "coil", "address": 0, "type": "bool"})
    profile = ModbusProfile.model_validate(
        {"id": "full", "protocol": "modbus", "kind": "smoke_detector", "points": points}
    )
    device = ModbusDevice(id="f", unit=1, address=0, profile=profile, poll_interval=1)
    registers, coils = sorted(plan_requests([device]), key=lambda r: r.function.is_bit)
    even = SerialLine("/dev/ttyUSB0", baudrate=9600, parity=Parity.EVEN, stopbits=1)
    # request 8 bytes + response 5 + 250 bytes + two silences of 3.5 characters, 11 bits each
    assert exchange_time(even, registers) == pytest.approx((8 + 5 + 250 + 7) * 11 / 9600)
    assert exchange_time(even, coils) == pytest.approx((8 + 5 + 1 + 7) * 11 / 9600)
    none = SerialLine("/dev/ttyUSB0", baudrate=19200, parity=Parity.NONE, stopbits=2)
    assert exchange_time(none, registers) == pytest.approx(270 * 11 / 19200)
    assert longest_exchange(even, [device]) == (exchange_time(even, registers), registers)
    assert longest_exchange(even, []) == (0.0, None)
