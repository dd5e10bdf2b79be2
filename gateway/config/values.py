"""Small value types used across the config: durations and secret references."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.config.secretsource import file_warning, read_env_secret, read_file_secret
from rules import parse_duration

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
"""Seconds; written in config as `1s`, `500ms`, `2m`, `1h` or a number of seconds."""


def _no_inline_secret(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError("secrets are never written inline: use {env: NAME} or {file: PATH}")
    return value


class SecretRef(BaseModel):
    """A secret named by reference: an environment variable or a file (e.g. a Docker secret).

    A relative `file` is relative to the site file's folder, like every path in the site
    file (the loader passes that folder as the validation context `folder`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: Path | None = None

    @field_validator("env")
    @classmethod
    def _variable_name(cls, env: str | None) -> str | None:
        if env is not None and not _ENV_NAME.match(env):
            raise ValueError(
                f"an environment variable's name is letters, digits and '_' (got {env!r})"
            )
        return env

    @field_validator("file")
    @classmethod
    def _beside_the_site(cls, file: Path | None, info: ValidationInfo) -> Path | None:
        folder = info.context.get("folder") if isinstance(info.context, dict) else None
        if file is None or file.is_absolute() or not isinstance(folder, Path):
            return file
        return folder / file

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def reveal(self) -> str:
        """The secret's value; raises `LookupError` (a `SecretError`) naming the reference
        when it is not there or not usable (see `gateway.config.secretsource`)."""
        if self.env is not None:
            return read_env_secret(self.env)
        return read_file_secret(self.file or Path())

    def warning(self) -> str | None:
        """Why the secret looks exposed (a file every user may read), or None."""
        return file_warning(self.file) if self.file is not None else None


Secret = Annotated[SecretRef, BeforeValidator(_no_inline_secret)]
