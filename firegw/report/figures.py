"""Every figure of a report, worked out once from a `Scope`: the page and the CSV files are
made from these, and the tests compare these with the truth."""

from __future__ import annotations

from dataclasses import dataclass

from firegw.report.coverage import Coverage, coverage_of
from firegw.report.hazards import Hazards, Rectification, hazards_of, rectification_of
from firegw.report.health import Health, health_of
from firegw.report.response import Response, response_of
from firegw.report.scope import Scope

__all__ = ["Figures", "figures_of"]


@dataclass(frozen=True)
class Figures:
    scope: Scope
    hazards: Hazards
    rectification: Rectification
    response: Response
    coverage: Coverage
    health: Health


def figures_of(scope: Scope) -> Figures:
    return Figures(
        scope=scope,
        hazards=hazards_of(scope),
        rectification=rectification_of(scope),
        response=response_of(scope),
        coverage=coverage_of(scope),
        health=health_of(scope),
    )
