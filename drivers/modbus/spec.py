"""What the Modbus driver polls: endpoints (TCP or an RS-485 line), their devices.

The gateway builds these from its site config; the driver never sees the site config. They
are validated when built, so a bad unit id or an address beyond the register space is an
error at start-up, naming the device, not a failed poll later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from drivers.modbus.profile import Function, ModbusProfile

MAX_REGISTERS = 125
MAX_BITS = 2000
MERGE_GAP = 8
"""Registers of a gap that a merged read may span (eight times as many bits for coils and
discrete inputs): reading a few unused registers costs far less than another request."""


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


class Parity(StrEnum):
    """Serial parity: the Modbus RTU default is even (E); none (N) needs two stop bits."""

    NONE = "N"
    EVEN = "E"
    ODD = "O"


@dataclass(frozen=True)
class SerialLine:
    """An RS-485 (or RS-232) line for Modbus RTU: the device path and its character format."""

    device: str
    baudrate: int = 9600
    parity: Parity = Parity.EVEN
    stopbits: int = 1
    bytesize: int = 8

    def check(self, endpoint: str) -> None:
        """Raise ValueError naming the endpoint for a line no UART can run."""
        if not self.device:
            raise ValueError(f"endpoint {endpoint}: serial device path is empty")
        if not self.baudrate > 0:
            raise ValueError(f"endpoint {endpoint}: baudrate {self.baudrate!r} must be > 0")
        if self.stopbits not in (1, 2):
            raise ValueError(f"endpoint {endpoint}: stopbits {self.stopbits!r} must be 1 or 2")
        if self.bytesize not in (7, 8):
            raise ValueError(f"endpoint {endpoint}: bytesize {self.bytesize!r} must be 7 or 8")


@dataclass(frozen=True, kw_only=True)
class ModbusEndpointSpec:
    """One Modbus connection and the devices polled over it: TCP (`host`, `port`) or RTU on
    a serial line (`serial`), exactly one of them.

    `merge_gap` is how many unused registers a read may span to join the blocks of
    neighbouring points and devices into one request.
    """

    id: str
    timeout: float
    devices: tuple[ModbusDevice, ...]
    host: str | None = None
    port: int = 502
    serial: SerialLine | None = None
    merge_gap: int = MERGE_GAP

    def __post_init__(self) -> None:
        if (self.host is None) == (self.serial is None):
            raise ValueError(f"endpoint {self.id}: needs exactly one of host or serial")
        if self.serial is not None:
            self.serial.check(self.id)
        elif not 1 <= self.port <= 65535:
            raise ValueError(f"endpoint {self.id}: port {self.port!r} is not within 1..65535")
        if not self.timeout > 0:
            raise ValueError(f"endpoint {self.id}: timeout {self.timeout!r} must be > 0")
        if self.merge_gap < 0:
            raise ValueError(f"endpoint {self.id}: merge_gap {self.merge_gap!r} must be >= 0")
        ids = [device.id for device in self.devices]
        for device_id in ids:
            if ids.count(device_id) > 1:
                raise ValueError(f"endpoint {self.id}: device {device_id!r} is listed twice")

    @property
    def where(self) -> str:
        """The connection as people name it: host:port, or the serial device path."""
        return self.serial.device if self.serial is not None else f"{self.host}:{self.port}"
