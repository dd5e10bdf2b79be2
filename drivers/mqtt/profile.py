"""How an MQTT device's JSON payload maps to points: the profile format, as validated data."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FieldType(StrEnum):
    """The JSON type a field must have."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"


class FieldPoint(BaseModel):
    """One point taken from a JSON field, addressed by a dotted path (`stream.fps`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")]
    type: FieldType = FieldType.FLOAT
    enum: dict[str, str | bool] | None = Field(
        default=None,
        description="payload value to state name, or to true/false for a status word that "
        "stands for a flag (an NVR's 'Connected'/'Disconnected' is the camera's `online`)",
    )
    scale: float | None = None
    unit: str | None = None
    required: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.enum is not None and self.type is not FieldType.STR:
            raise ValueError("enum tables apply to str fields")
        if self.scale is not None and self.type not in (FieldType.INT, FieldType.FLOAT):
            raise ValueError("scale applies to numeric fields")
        return self

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))


class MqttProfile(BaseModel):
    """A device model's JSON payload layout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    protocol: Literal["mqtt"]
    kind: str
    description: str | None = None
    max_payload_bytes: Annotated[int, Field(gt=0)] = 16384
    points: Annotated[tuple[FieldPoint, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [p.name for p in self.points]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"point name {duplicates[0]!r} is used twice")
        return self
