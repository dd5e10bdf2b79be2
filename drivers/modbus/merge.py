"""Which read requests cover a set of points: near neighbours joined into as few as possible.

Each request costs a round trip (on RS-485 at 9600 baud, tens of milliseconds), while a few
extra registers cost almost nothing, so the points of every device polled together are read
in shared requests: per unit and table, spans whose gap is at most `merge_gap` registers
(eight times as many bits for coils and discrete inputs) are joined, as long as the request
stays within the protocol's 125 registers or 2000 bits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from drivers.modbus.profile import Function, RegisterPoint
from drivers.modbus.spec import MAX_BITS, MAX_REGISTERS, MERGE_GAP, ModbusDevice


@dataclass(frozen=True)
class PointRead:
    """One point of one device, at its absolute address on the unit."""

    device: ModbusDevice
    point: RegisterPoint

    @property
    def first(self) -> int:
        return self.device.address + self.point.address

    @property
    def end(self) -> int:
        """One past the last register (or bit) of the point."""
        return self.first + self.point.count


@dataclass(frozen=True)
class Request:
    """One read request: `count` registers or bits of one table of one unit from `address`,
    and the points of (perhaps several) devices it carries."""

    unit: int
    function: Function
    address: int
    count: int
    reads: tuple[PointRead, ...]

    @cached_property
    def devices(self) -> tuple[ModbusDevice, ...]:
        """The devices with points in this request, each once, in address order (kept: the
        poll cycle asks for them on every read of a plan it reuses)."""
        return tuple({read.device.id: read.device for read in self.reads}.values())

    def values_of(self, read: PointRead, values: Sequence[int]) -> Sequence[int]:
        """The slice of this request's response that holds one of its points."""
        start = read.first - self.address
        return values[start : start + read.point.count]


@dataclass(frozen=True)
class ReadBlock:
    """One read of one device: `count` registers or bits of one table from absolute `address`."""

    function: Function
    address: int
    count: int
    points: tuple[RegisterPoint, ...]


Table = tuple[int, Function]


@dataclass(frozen=True)
class _Span:
    """Points of one device that are read together even alone: never split between requests,
    so a device's values in one table always come from one response."""

    reads: tuple[PointRead, ...]

    @property
    def first(self) -> int:
        return min(read.first for read in self.reads)

    @property
    def end(self) -> int:
        return max(read.end for read in self.reads)


def plan_requests(
    devices: Iterable[ModbusDevice],
    merge_gap: int = MERGE_GAP,
    avoid: Iterable[ModbusDevice] = (),
) -> list[Request]:
    """The fewest requests (greedy from the lowest address, which is optimal for a line of
    spans) that read every point of `devices`, joining spans at most `merge_gap` apart.

    A device's own points are joined first, and its spans are never split. No request touches
    a point of the `avoid` devices: a faulty device fails every read that covers its
    registers, so its healthy neighbours must be read around it.
    """
    tables = _spans(devices, merge_gap)
    walls = _spans(avoid, merge_gap)
    requests: list[Request] = []
    for (unit, function), spans in sorted(tables.items()):
        joined = _join(function, spans, merge_gap, walls.get((unit, function), []))
        requests.extend(_request(unit, function, group) for group in joined)
    return requests


def _spans(devices: Iterable[ModbusDevice], gap: int) -> dict[Table, list[_Span]]:
    """Each device's points, per table, joined within the gap: the pieces that get merged."""
    tables: dict[Table, list[_Span]] = defaultdict(list)
    for device in devices:
        by_table: dict[Function, list[_Span]] = defaultdict(list)
        for point in device.profile.points:
            by_table[point.function].append(_Span((PointRead(device, point),)))
        for function, spans in by_table.items():
            for group in _join(function, spans, gap, []):
                reads = tuple(read for span in group for read in span.reads)
                tables[device.unit, function].append(_Span(reads))
    return tables


def _join(
    function: Function, spans: list[_Span], gap: int, walls: list[_Span]
) -> list[list[_Span]]:
    """Spans in address order, grouped greedily while gaps and the request limit allow."""
    limit, gap = (MAX_BITS, gap * 8) if function.is_bit else (MAX_REGISTERS, gap)
    groups: list[list[_Span]] = []
    start = end = 0
    for span in sorted(spans, key=lambda s: (s.first, s.end)):
        joinable = groups and span.first - end <= gap and span.end - start <= limit
        if joinable and not any(w.first < span.first and w.end > end for w in walls):
            groups[-1].append(span)
            end = max(end, span.end)
            continue
        groups.append([span])
        start, end = span.first, span.end
    return groups


def _request(unit: int, function: Function, spans: list[_Span]) -> Request:
    reads = [read for span in spans for read in span.reads]
    first = min(read.first for read in reads)
    count = max(read.end for read in reads) - first
    return Request(unit, function, first, count, tuple(reads))


def plan_reads(device: ModbusDevice, merge_gap: int = MERGE_GAP) -> tuple[ReadBlock, ...]:
    """The requests that read one device alone, as blocks of its points."""
    return tuple(
        ReadBlock(r.function, r.address, r.count, tuple(read.point for read in r.reads))
        for r in plan_requests([device], merge_gap)
    )
