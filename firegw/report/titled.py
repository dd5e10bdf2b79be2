"""Tables titled in the report's language by their keys: a table's key names its CSV file and
its title (`tables.<key>` in the catalogue), a column's key its title (`columns.<key>`)."""

from __future__ import annotations

from collections.abc import Sequence

from firegw.report.tables import Cell, Column, Form, Table
from firegw.report.words import Words

__all__ = ["Heading", "titled_table"]

Heading = str | tuple[str, Form] | Column
"""A column by its key (text), by its key and form, or a column titled otherwise."""


def titled_table(
    words: Words, key: str, headings: Sequence[Heading], rows: list[list[Cell]]
) -> Table:
    """The table `key`, its title and its columns' titles from the catalogue."""
    return Table(key, words(f"tables.{key}"), [_column(words, h) for h in headings], rows)


def _column(words: Words, heading: Heading) -> Column:
    if isinstance(heading, Column):
        return heading
    key, form = (heading, Form.TEXT) if isinstance(heading, str) else heading
    return Column(key, words(f"columns.{key}"), form)
