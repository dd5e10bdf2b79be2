"""Tables: what the page shows and what each CSV file holds, cell for cell.

A cell keeps its number; the column's form says how the page writes it (a share as a
percentage, seconds with one decimal). The CSV files get the numbers themselves, so a
spreadsheet can add them up.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

__all__ = ["TEXTS", "Cell", "Column", "Form", "Table", "shown", "write_csv"]

Cell = str | int | float | None


class Form(StrEnum):
    TEXT = "text"
    TIME = "time"
    """A local date and time (text), which the page keeps on one line."""
    COUNT = "count"
    SECONDS = "seconds"
    MINUTES = "minutes"
    SHARE = "share"
    NUMBER = "number"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    form: Form = Form.TEXT
    own_line: bool = False
    """Long text (a timeline): on the page, a line of its own under the rest of its row, so
    that it does not squeeze the other columns; in the CSV file, a column like any other."""


@dataclass(frozen=True)
class Table:
    key: str
    """Its CSV file's name, without `.csv`."""
    title: str
    columns: Sequence[Column]
    rows: list[list[Cell]] = field(default_factory=list)


TEXTS = (Form.TEXT, Form.TIME)
"""The forms of text; the others are numbers."""


def shown(cell: Cell, form: Form, empty: str = "-") -> str:
    """A cell as the page writes it."""
    if cell is None:
        return empty
    if isinstance(cell, str):
        return cell
    if form is Form.SHARE:
        return f"{cell * 100:.1f} %"
    if form is Form.COUNT:
        return f"{int(cell):,}"
    if form in (Form.SECONDS, Form.MINUTES):
        return f"{cell:,.1f}"
    return f"{cell:,.3g}" if isinstance(cell, float) else f"{cell:,}"


def _raw(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float):
        return f"{cell:.6g}"
    return str(cell)


def write_csv(table: Table, folder: Path) -> Path:
    """`<folder>/<key>.csv`, UTF-8 with a byte-order mark (so that Excel reads Chinese)."""
    path = folder / f"{table.key}.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([column.title for column in table.columns])
        writer.writerows([_raw(cell) for cell in row] for row in table.rows)
    return path
