"""How a Modbus device's registers map to points: the profile format, as validated data.

A profile describes one device model. Addresses are offsets from the device's base address in
the site config, so the same profile serves every detector on a panel.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Function(StrEnum):
    """The four Modbus data tables."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    HOLDING_REGISTER = "holding_register"
    INPUT_REGISTER = "input_register"

    @property
    def is_bit(self) -> bool:
        return self in _BIT_TABLES

    @property
    def code(self) -> int:
        """The Modbus function code that reads this table."""
        return _READ_CODES[self]


_BIT_TABLES = frozenset({Function.COIL, Function.DISCRETE_INPUT})
_READ_CODES = {
    Function.COIL: 1,
    Function.DISCRETE_INPUT: 2,
    Function.HOLDING_REGISTER: 3,
    Function.INPUT_REGISTER: 4,
}


class DataType(StrEnum):
    """How the raw registers of a point are read as a number."""

    BOOL = "bool"
    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    U64 = "u64"
    I64 = "i64"
    F32 = "f32"
    F64 = "f64"

    @property
    def registers(self) -> int:
        """How many 16-bit registers the type occupies."""
        return _REGISTERS[self]


_REGISTERS = {
    DataType.BOOL: 1,
    DataType.U16: 1,
    DataType.I16: 1,
    DataType.U32: 2,
    DataType.I32: 2,
    DataType.F32: 2,
    DataType.U64: 4,
    DataType.I64: 4,
    DataType.F64: 4,
}


class ByteOrder(StrEnum):
    """Byte and word order of multi-register values, in the usual A-B-C-D notation.

    ABCD is big-endian words, most significant word first (the Modbus default); CDAB swaps the
    words; BADC swaps the bytes in each word; DCBA is fully little-endian.
    """

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"


class CurrentLoop(BaseModel):
    """A 4-20 mA transmitter: the point's value in mA is scaled to the engineering range.

    Outside the NAMUR NE 43 validity band the value is a sensor or wiring fault, not a
    measurement, and the reading is marked out of range.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float = Field(description="engineering value at 4 mA")
    high: float = Field(description="engineering value at 20 mA")
    fault_below_ma: float = 3.6
    fault_above_ma: float = 21.0


class RegisterPoint(BaseModel):
    """One point of a Modbus device, read from one or more registers or one bit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    function: Function
    address: Annotated[int, Field(ge=0, le=65535)]
    type: DataType = DataType.U16
    order: ByteOrder = ByteOrder.ABCD
    bits: tuple[int, int] | None = Field(
        default=None, description="inclusive bit range (low, high) of a bit field within the value"
    )
    enum: dict[int, str] | None = Field(default=None, description="raw value to state name")
    scale: float | None = None
    offset: float | None = None
    current_loop: CurrentLoop | None = None
    unit: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.function.is_bit and self.type is not DataType.BOOL:
            raise ValueError(f"a {self.function} point must have type bool, not {self.type}")
        if not self.function.is_bit and self.type is DataType.BOOL and self.bits is None:
            raise ValueError("a bool from a register needs bits: [n, n] to name the bit")
        if self.bits is not None:
            self._check_bits(self.bits)
        if self.enum is not None and (self.scale is not None or self.current_loop is not None):
            raise ValueError("an enum point cannot also be scaled")
        return self

    def _check_bits(self, bits: tuple[int, int]) -> None:
        """The bit field must lie within the register(s) the point reads, low bit first."""
        low, high = bits
        size = 16 * self.type.registers
        if low > high:
            raise ValueError(f"bits {list(bits)}: write the low bit first ([{high}, {low}])")
        if not 0 <= low <= high < size:
            registers = "one 16-bit register" if size == 16 else f"{size // 16} registers"
            owner = "" if size == 16 else f" of a {self.type}"
            raise ValueError(
                f"bits {list(bits)} do not fit {registers}{owner} (bits 0 to {size - 1})"
            )

    @cached_property
    def count(self) -> int:
        """How many registers (or bits) the point reads (asked for every point of every
        poll: computed once)."""
        return 1 if self.function.is_bit else self.type.registers


class StateCondition(BaseModel):
    """One line of a derived point: its `state` holds when the point `when` is true (a bool
    point) or, with `in`, when that enum point's state is one of those listed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    state: str
    when: str
    among: tuple[str, ...] | None = Field(default=None, alias="in", min_length=1)

    def holds(self, value: object) -> bool:
        """Whether the source point's good value makes this state hold."""
        return value is True if self.among is None else value in self.among


class DerivedPoint(BaseModel):
    """A point computed from other points of the same poll, not read from registers: the
    `state` of the first rule that holds, in the order written, else `otherwise`.

    Panels send several flags that can be set at once (alarm, trouble, disabled); the rules
    want one state, and the order says which one wins.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    first_of: Annotated[tuple[StateCondition, ...], Field(min_length=1)]
    otherwise: str
    unit: str | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """The points the rules read, in order, each once."""
        return tuple(dict.fromkeys(rule.when for rule in self.first_of))


class ModbusProfile(BaseModel):
    """A device model's register map, and the points derived from its registers' points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    protocol: Literal["modbus"]
    kind: str
    description: str | None = None
    points: Annotated[tuple[RegisterPoint, ...], Field(min_length=1)]
    derived: tuple[DerivedPoint, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        seen: set[str] = set()
        every: tuple[RegisterPoint | DerivedPoint, ...] = (*self.points, *self.derived)
        for point in every:
            if point.name in seen:
                raise ValueError(f"point name {point.name!r} is used twice")
            seen.add(point.name)
        return self

    @model_validator(mode="after")
    def _derivable(self) -> Self:
        """Each rule of a derived point names a register point it can test: a bool point, or
        an enum point with states from its table (a typo would otherwise never match)."""
        by_name = {point.name: point for point in self.points}
        for derived in self.derived:
            for rule in derived.first_of:
                _check_rule(derived.name, rule, by_name.get(rule.when))
        return self

    @property
    def point_names(self) -> tuple[str, ...]:
        """Every point a poll delivers: the register points, then the derived ones."""
        every: tuple[RegisterPoint | DerivedPoint, ...] = (*self.points, *self.derived)
        return tuple(point.name for point in every)

    def span(self, function: Function) -> tuple[int, int] | None:
        """The (first, last) offsets this profile reads in one table, or None."""
        used = [(p.address, p.address + p.count - 1) for p in self.points if p.function is function]
        if not used:
            return None
        return min(a for a, _ in used), max(b for _, b in used)


def _check_rule(derived: str, rule: StateCondition, point: RegisterPoint | None) -> None:
    where = f"derived point {derived!r}, state {rule.state!r}"
    if point is None:
        raise ValueError(f"{where}: no register point {rule.when!r}")
    if rule.among is None:
        if point.type is not DataType.BOOL:
            raise ValueError(f"{where}: point {rule.when!r} is not a bool; give `in:` states")
        return
    states = set((point.enum or {}).values())
    if not states:
        raise ValueError(f"{where}: `in:` needs an enum point, and {rule.when!r} has no enum")
    unknown = [name for name in rule.among if name not in states]
    if unknown:
        raise ValueError(f"{where}: {rule.when!r} has no state {unknown[0]!r}")
