"""What the Modbus driver polls: endpoints, their devices, and the read requests per device.

The gateway builds these from its site config; the driver never sees the site config. They
are validated when built, so a bad unit id or an address beyond the register space is an
error at start-up, naming the device, not a failed poll later.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.modbus.profile import Function, ModbusProfile, RegisterPoint

MAX_REGISTERS = 125
MAX_BITS = 2000


@dataclass(frozen=True)
class ModbusDevice:
    """One device on an endpoint: its unit id, the base address of its block, its profile."""

    id: str
    unit: int
    address: int
    profile: ModbusProfile
    poll_interval: float

    def __post_init__(self) -> None:
        if not 0 <= self.unit <= 255:
            raise ValueError(f"device {self.id}: unit {self.unit!r} is not within 0..255")
        if not self.poll_interval > 0:
            raise ValueError(f"device {self.id}: poll_interval {self.poll_interval!r} must be > 0")
        for function in Function:
            span = self.profile.span(function)
            if span is not None and self.address + span[1] > 65535:
                raise ValueError(
                    f"device {self.id}: address {self.address} + profile {self.profile.id}"
                    f" offset {span[1]} is beyond register 65535"
                )


@dataclass(frozen=True)
class ModbusEndpointSpec:
    """One Modbus TCP connection and the devices polled over it."""

    id: str
    host: str
    port: int
    timeout: float
    devices: tuple[ModbusDevice, ...]

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"endpoint {self.id}: port {self.port!r} is not within 1..65535")
        if not self.timeout > 0:
            raise ValueError(f"endpoint {self.id}: timeout {self.timeout!r} must be > 0")
        ids = [device.id for device in self.devices]
        for device_id in ids:
            if ids.count(device_id) > 1:
                raise ValueError(f"endpoint {self.id}: device {device_id!r} is listed twice")


@dataclass(frozen=True)
class ReadBlock:
    """One read request: `count` registers or bits of one table from absolute `address`."""

    function: Function
    address: int
    count: int
    points: tuple[RegisterPoint, ...]


def plan_reads(device: ModbusDevice) -> tuple[ReadBlock, ...]:
    """The requests that read every point of a device: per table, the span from its first to
    its last point, split only where a span exceeds the protocol's 125 registers / 2000 bits."""
    blocks: list[ReadBlock] = []
    for function in Function:
        points = sorted(
            (p for p in device.profile.points if p.function is function), key=lambda p: p.address
        )
        limit = MAX_BITS if function.is_bit else MAX_REGISTERS
        group: list[RegisterPoint] = []
        for point in points:
            if group and point.address + point.count - group[0].address > limit:
                blocks.append(_block(device, function, group))
                group = []
            group.append(point)
        if group:
            blocks.append(_block(device, function, group))
    return tuple(blocks)


def _block(device: ModbusDevice, function: Function, points: list[RegisterPoint]) -> ReadBlock:
    first = points[0].address
    last = max(p.address + p.count for p in points)
    return ReadBlock(function, device.address + first, last - first, tuple(points))
