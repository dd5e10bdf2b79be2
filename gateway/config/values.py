"""Small value types used across the config: durations and secret references."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from rules import parse_duration


def _duration(value: Any) -> Any:
    """Seconds from `value`, refusing one too long to count (`999...9h` is infinity)."""
    seconds = parse_duration(value)
    if isinstance(seconds, float) and not math.isfinite(seconds):
        shown = value if len(str(value)) <= 40 else f"{str(value)[:40]}..."
        raise ValueError(f"expected a duration such as 10s or 2m, got {shown!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(_duration), Field(gt=0)]
"""Seconds; written in config as `1s`, `500ms`, `2m`, `1h` or a number of seconds."""


def _no_inline_secret(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError("secrets are never written inline: use {env: NAME} or {file: PATH}")
    return value


class SecretRef(BaseModel):
    """A secret named by reference: an environment variable or a file (e.g. a Docker secret)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def reveal(self) -> str:
        """The secret's value; raises `LookupError` naming the reference if it is not there."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise LookupError(f"environment variable {self.env} is not set")
            return value
        file = self.file or Path()
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise LookupError(f"cannot read secret file {file}: {error.strerror}") from error


Secret = Annotated[SecretRef, BeforeValidator(_no_inline_secret)]
