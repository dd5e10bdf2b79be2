"""Modbus RTU on an RS-485 line, through pymodbus' serial client, as a `Client`.

pymodbus does the RTU framing (CRC, silences between frames); this adapts its client to the
poller's interface: its errors become `NotConnected` and `NoAnswer`, its responses `Answer`s.
It never retries or reconnects by itself: both are the link's, with backoff, and a retry would
hide a silent unit behind doubled timeouts.
"""

from __future__ import annotations

import asyncio

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from core import raise_if_stopping
from drivers.modbus.client import Answer, NoAnswer, NotConnected, OnLost
from drivers.modbus.merge import Request
from drivers.modbus.profile import Function
from drivers.modbus.spec import SerialLine


class RtuClient:
    """A `Client` for a serial line (see `drivers.modbus.client`)."""

    def __init__(self, name: str, line: SerialLine, timeout: float, on_lost: OnLost) -> None:
        self._on_lost = on_lost
        self._closing = False
        self._client = AsyncModbusSerialClient(
            line.device,
            framer=FramerType.RTU,
            baudrate=line.baudrate,
            parity=line.parity.value,
            stopbits=line.stopbits,
            bytesize=line.bytesize,
            name=f"modbus-{name}",
            timeout=timeout,
            retries=0,
            reconnect_delay=0,
            trace_connect=self._connection_changed,
        )
        self._client.set_max_no_responses(2**31)  # a silent unit is silence, not a lost line

    def _connection_changed(self, connected: bool) -> None:
        if not connected and not self._closing:
            self._on_lost()

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    async def connect(self) -> bool:
        """Open the line."""
        self._closing = False
        try:
            connected = bool(await self._client.connect())
        except ModbusException as exc:
            raise OSError(str(exc)) from exc
        raise_if_stopping()  # pymodbus connects with wait_for, which may drop a stop
        return connected

    async def read(self, request: Request) -> Answer:
        try:
            response = await _send(self._client, request)
            raise_if_stopping()
        except ConnectionException as exc:
            raise NotConnected from exc
        except ModbusIOException as exc:
            if not self._client.connected:
                raise NotConnected from exc
            raise NoAnswer from exc
        return _answer(response, request)

    def close(self) -> None:
        self._closing = True
        self._client.close()


def _answer(response: ModbusPDU, request: Request) -> Answer:
    function = response.function_code & 0x7F
    if response.isError():
        return Answer(response.dev_id, function, [], exception=response.exception_code)
    values: list[int] | list[bool] = (
        list(response.bits) if request.function.is_bit else list(response.registers)
    )
    return Answer(response.dev_id, function, values)


def _send(client: AsyncModbusSerialClient, request: Request) -> asyncio.Future[ModbusPDU]:
    read = {
        Function.COIL: client.read_coils,
        Function.DISCRETE_INPUT: client.read_discrete_inputs,
        Function.HOLDING_REGISTER: client.read_holding_registers,
        Function.INPUT_REGISTER: client.read_input_registers,
    }[request.function]
    return read(request.address, count=request.count, device_id=request.unit)  # type: ignore[return-value]
