"""Scripted incidents: a YAML list of faults to apply at set times after the simulators start.

    steps:
      - {at: 10s, fault: detector_fault, device: OPD-SD-003}
      - {at: 20s, fault: pressure_drop, device: OPD-HP-01, to: 0.05, rate: 0.5}

A scenario is checked against the site when it is loaded (known device, a fault that fits
it, arguments that fault takes), so a typo fails at once with the step's line, not halfway
through a demo.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from gateway.config import Site
from simulators.faults import Fault, FaultError, check_fault

logger = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _seconds(value: Any) -> Any:
    """`500ms`, `5s`, `2m`, `1h` or a plain number of seconds -> seconds."""
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return float(match[1]) * _SECONDS[match[2]]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a time such as 5s or 500ms, got {value!r}")
    return value


class Step(BaseModel):
    """One fault, applied `at` seconds after the scenario starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: Annotated[float, BeforeValidator(_seconds), Field(ge=0)]
    fault: Fault
    device: str
    to: float | None = Field(default=None, description="pressure_drop: target MPa")
    rate: float | None = Field(default=None, description="pressure_drop: MPa per minute")
    ma: float | None = Field(default=None, description="sensor_fault: stuck loop current")
    code: int | None = Field(default=None, description="exception: Modbus exception code")

    @property
    def args(self) -> dict[str, float | int]:
        """The fault's arguments that the step gives."""
        given = {"to": self.to, "rate": self.rate, "ma": self.ma, "code": self.code}
        return {name: value for name, value in given.items() if value is not None}


class Scenario(BaseModel):
    """A checked list of steps, kept in time order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: tuple[Step, ...] = ()

    @property
    def timeline(self) -> list[Step]:
        return sorted(self.steps, key=lambda step: step.at)


class ScenarioError(ValueError):
    """A scenario that cannot be played; the message names the file, line and step."""


def load_scenario(path: str | Path, site: Site) -> Scenario:
    """Read a scenario file and check it against the site; raises `ScenarioError`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        data, lines = yaml.safe_load(text), _step_lines(text)
    except (OSError, yaml.YAMLError) as error:
        raise ScenarioError(f"{file.name}: cannot read: {error}") from error
    try:
        scenario = Scenario.model_validate(data if data is not None else {})
    except ValidationError as error:
        raise ScenarioError("\n".join(_issue(file, lines, e) for e in error.errors())) from None
    problems = [
        f"{_where(file, lines, index)}{field}: {reason}"
        for index, field, reason in check_scenario(scenario, site)
    ]
    if problems:
        raise ScenarioError("\n".join(problems))
    return scenario


def check_scenario(scenario: Scenario, site: Site) -> list[tuple[int, str, str]]:
    """Every step that could not be applied on this site, as (step index, field, reason)."""
    problems = []
    for index, step in enumerate(scenario.steps):
        device = site.devices.get(step.device)
        if device is None:
            problems.append((index, ".device", f"unknown device {step.device!r}"))
            continue
        try:
            check_fault(device, step.fault, step.args)
        except FaultError as error:
            problems.append((index, "", str(error)))
    return problems


def _step_lines(text: str) -> dict[int, int]:
    """The line of each item of `steps`, for error messages."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if key.value == "steps" and isinstance(value, yaml.SequenceNode):
            return {i: item.start_mark.line + 1 for i, item in enumerate(value.value)}
    return {}


def _where(file: Path, lines: dict[int, int], index: int) -> str:
    line = lines.get(index)
    return f"{file.name}:{line}: steps[{index}]" if line else f"{file.name}: steps[{index}]"


def _issue(file: Path, lines: dict[int, int], error: Any) -> str:
    loc, value = error["loc"], error.get("input")
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] != "value_error" and isinstance(value, str | int | float):
        message = f"{message} (got {value!r})"
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        field = "".join(f".{part}" for part in loc[2:])
        return f"{_where(file, lines, loc[1])}{field}: {message}"
    return f"{file.name}: {'.'.join(map(str, loc))}: {message}"


async def play(
    scenario: Scenario,
    apply: Callable[..., Awaitable[None]],
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Apply each step at its time after the call (monotonic clock), then return."""
    start = clock()
    for step in scenario.timeline:
        await asyncio.sleep(max(0.0, start + step.at - clock()))
        try:
            await apply(step.fault, step.device, **step.args)
        except FaultError as error:  # checked at load time; only a changed site gets here
            logger.warning("scenario step at %ss: %s", step.at, error)
            continue
        logger.info("scenario: %ss: %s on %s", step.at, step.fault, step.device)
