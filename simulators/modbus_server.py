"""Simulated Modbus endpoints: a fire panel's gateway, an I/O module, an RS-485 bus of units.

Each endpoint of the site gets one server, with one unit per unit id its devices use: a TCP
server bound to its configured host and port, or an RTU server on its serial line. The
devices' values live in our own register image, which a refresh task encodes every 200 ms;
pymodbus serves them through a per-unit `action` hook (the `SimDevice` datastore of pymodbus
3.16; the older `ModbusDeviceContext` is only a deprecated shim onto it and offers no
per-request hook). That hook is also where faults happen:

- `exception`: the hook returns the device's exception code, and pymodbus answers with a
  Modbus exception response for any read touching that device's addresses;
- `silent`: the hook raises `NoSuchIdException`; with `ignore_missing_devices=True` pymodbus
  then sends nothing at all, exactly as for a unit that is not on the line, and the master's
  request times out while the connection stays open for the other devices.

A read that spans several devices fails if any of them is faulted, as on a real gateway.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from core import Value
from drivers.modbus import Function, ModbusProfile, RegisterPoint
from gateway.config import ModbusEndpoint, ModbusSource, Site
from simulators.devices import DeviceFleet, SimulatedDevice
from simulators.faults import LinkFault
from simulators.registers import EncodeError, encode

logger = logging.getLogger(__name__)

REFRESH_INTERVAL = 0.2
_TABLE_OF_CODE = {
    1: Function.COIL,
    5: Function.COIL,
    15: Function.COIL,
    2: Function.DISCRETE_INPUT,
    4: Function.INPUT_REGISTER,
    3: Function.HOLDING_REGISTER,
    6: Function.HOLDING_REGISTER,
    16: Function.HOLDING_REGISTER,
    22: Function.HOLDING_REGISTER,
    23: Function.HOLDING_REGISTER,
}
_TABLES = (
    Function.COIL,
    Function.DISCRETE_INPUT,
    Function.HOLDING_REGISTER,
    Function.INPUT_REGISTER,
)  # the order pymodbus wants its four blocks in


@dataclass(frozen=True)
class ModbusMember:
    """A simulated device as it sits on an endpoint: where its block is, and its register map."""

    device: SimulatedDevice
    source: ModbusSource
    profile: ModbusProfile

    def occupies(self, table: Function, first: int, count: int) -> bool:
        """Whether a request for `count` items from `first` touches this device's points."""
        return any(
            point.function is table
            and first <= self.source.address + point.address + point.count - 1
            and self.source.address + point.address <= first + count - 1
            for point in self.profile.points
        )


@dataclass
class _Unit:
    """One unit id: its devices and its register image, table by table."""

    members: list[ModbusMember] = field(default_factory=list)
    image: dict[Function, list[int]] = field(default_factory=dict)

    def size(self, table: Function) -> int:
        ends = [
            m.source.address + p.address + p.count
            for m in self.members
            for p in m.profile.points
            if p.function is table
        ]
        return max(ends, default=0)


class ModbusEndpointServer:
    """One simulated endpoint: an async context manager that listens while it is open."""

    def __init__(
        self,
        endpoint: ModbusEndpoint,
        members: Sequence[ModbusMember],
        serial_port: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.serial_port = serial_port or endpoint.serial
        self.units: dict[int, _Unit] = defaultdict(_Unit)
        for member in members:
            self.units[member.source.unit].members.append(member)
        for unit in self.units.values():
            unit.image = {table: [0] * unit.size(table) for table in _TABLES}
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._failing: set[str] = set()
        self.refresh()

    @property
    def where(self) -> str:
        """host:port of a TCP endpoint, or the serial device an RTU endpoint opens."""
        if self.serial_port is not None:
            return self.serial_port
        return f"{self.endpoint.host}:{self.endpoint.port}"

    async def __aenter__(self) -> Self:
        server = self._make_server()
        try:
            await server.serve_forever(background=True)
        except (RuntimeError, OSError) as error:
            server.close()
            raise OSError(
                f"Modbus endpoint {self.endpoint.id!r} cannot listen on {self.where}"
            ) from error
        self._server = server
        logger.debug("endpoint %s listening on %s", self.endpoint.id, self.where)
        return self

    def _make_server(self) -> ModbusTcpServer | ModbusSerialServer:
        """A TCP server on the endpoint's host and port, or an RTU server on its serial line
        (where, as on a real bus, a unit id nobody has is met with silence)."""
        if self.serial_port is None:
            return ModbusTcpServer(
                self._sim_devices(),
                ignore_missing_devices=True,
                address=(self.endpoint.host or "", self.endpoint.port),
            )
        endpoint = self.endpoint
        return ModbusSerialServer(
            self._sim_devices(catch_all=False),
            framer=FramerType.RTU,
            port=self.serial_port,
            baudrate=endpoint.baudrate,
            parity=endpoint.parity.value,
            stopbits=endpoint.stopbits,
            bytesize=endpoint.bytesize,
            ignore_missing_devices=True,
        )

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus'
            self._server = None

    def _sim_devices(self, *, catch_all: bool = True) -> list[SimDevice]:
        devices = [
            SimDevice(unit_id, simdata=_blocks(unit), action=functools.partial(self._serve, unit))
            for unit_id, unit in self.units.items()
        ]
        if catch_all and 0 not in self.units:  # other unit ids: an exception, not a traceback
            devices.append(SimDevice(0, simdata=[SimData(0, datatype=DataType.INVALID)]))
        return devices

    def refresh(self) -> None:
        """Encode every device's current values into the register image."""
        for unit in self.units.values():
            for member in unit.members:
                self._write(unit, member)

    async def run(self, interval: float = REFRESH_INTERVAL) -> None:
        """Refresh the image every `interval` seconds until cancelled."""
        while True:
            self.refresh()
            await asyncio.sleep(interval)

    def _write(self, unit: _Unit, member: ModbusMember) -> None:
        values = member.device.values()
        try:
            for point in member.profile.points:
                value = point_value(values, point)
                if value is not None:
                    _store(unit.image[point.function], member.source.address, point, value)
        except EncodeError as error:
            if member.device.id not in self._failing:
                logger.warning("device %s: cannot encode: %s", member.device.id, error)
            self._failing.add(member.device.id)
            return
        if member.device.id in self._failing:
            logger.info("device %s: encoding again", member.device.id)
            self._failing.discard(member.device.id)

    async def _serve(  # noqa: PLR0917 - pymodbus calls its hook with six positional arguments
        self,
        unit: _Unit,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus' per-request hook: apply faults, then serve the current image."""
        table = _TABLE_OF_CODE[function_code]
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION  # panels and I/O modules here are read-only
        if address + count > len(unit.image[table]):
            return ExcCodes.ILLEGAL_ADDRESS  # bit blocks are padded to 16; ours end here
        for member in unit.members:
            fault = member.device.link_fault
            if fault is not None and member.occupies(table, address, count):
                if fault is LinkFault.SILENT:
                    raise NoSuchIdException(f"device {member.device.id} is silent")
                return ExcCodes(member.device.exception_code)
        words = _packed_bits(unit.image[table]) if table.is_bit else unit.image[table]
        registers[: len(words)] = words
        return None


def point_value(values: dict[str, Value], point: RegisterPoint) -> Value | None:
    """The device value a point carries: a current-loop point carries the loop current."""
    return values.get("loop_current" if point.current_loop is not None else point.name)


def _store(image: list[int], base: int, point: RegisterPoint, value: Value) -> None:
    first = base + point.address
    image[first : first + point.count] = encode(point, value, image[first : first + point.count])


def _blocks(unit: _Unit) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
    """pymodbus' four blocks, each at least as long as our image (bits padded to 16)."""
    blocks = []
    for table in _TABLES:
        size = max(unit.size(table), 1)
        if table.is_bit:
            size = -(-size // 16) * 16
            blocks.append([SimData(0, count=size, values=False, datatype=DataType.BITS)])
        else:
            blocks.append([SimData(0, count=size, values=0, datatype=DataType.REGISTERS)])
    return blocks[0], blocks[1], blocks[2], blocks[3]


def _packed_bits(bits: list[int]) -> list[int]:
    """Bits into 16-bit words, bit 0 first, as pymodbus keeps coils and discrete inputs."""
    padded = bits + [0] * (-len(bits) % 16)
    return [
        sum(bit << i for i, bit in enumerate(padded[at : at + 16]))
        for at in range(0, len(padded), 16)
    ]


def modbus_servers(
    site: Site, fleet: DeviceFleet, serial_ports: Mapping[str, str] | None = None
) -> list[ModbusEndpointServer]:
    """One server per endpoint of the site that has devices, each with the devices it serves;
    `serial_ports` maps an RTU endpoint's id to the device the simulator opens instead of the
    endpoint's own `serial` (the other end of a virtual serial pair)."""
    by_endpoint: dict[str, list[ModbusMember]] = defaultdict(list)
    for device in site.config.devices:
        if isinstance(device.source, ModbusSource):
            member = ModbusMember(fleet[device.id], device.source, site.modbus_profile(device))
            by_endpoint[device.source.endpoint].append(member)
    ports = serial_ports or {}
    return [
        ModbusEndpointServer(endpoint, by_endpoint[endpoint.id], ports.get(endpoint.id))
        for endpoint in site.config.modbus.endpoints
        if by_endpoint[endpoint.id]
    ]
