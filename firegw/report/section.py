"""A section of the report: a title, a note on how its figures are counted, plots, tables."""

from __future__ import annotations

from dataclasses import dataclass, field

from firegw.report.tables import Table

__all__ = ["Section"]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    note: str = ""
    plots: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
