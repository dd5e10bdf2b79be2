"""The report as one HTML file: print-ready (A4), plots inline as SVG, nothing fetched from
anywhere, so it can be mailed, archived or printed as it is."""

from __future__ import annotations

from html import escape

from firegw.report.document import Document
from firegw.report.section import Section
from firegw.report.tables import TEXTS, Cell, Column, Form, Table, shown

__all__ = ["page_of"]

_STYLE = """
@page { size: A4; margin: 14mm; }
body { font-family: "Noto Sans CJK SC", "Noto Sans", "DejaVu Sans", sans-serif; color: #222;
       margin: 0 auto; max-width: 190mm; font-size: 10.5pt; }
header { border-bottom: 3px solid #c62828; padding: 6mm 0 3mm; margin-bottom: 5mm; }
h1 { font-size: 20pt; margin: 0 0 2mm; }
.site { font-size: 13pt; color: #555; }
.facts { margin-top: 3mm; color: #444; }
.facts span { margin-right: 6mm; }
.tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: 3mm; margin: 4mm 0 6mm; }
.tile { border: 1px solid #ccc; border-radius: 2mm; padding: 3mm; }
.tile .value { font-size: 17pt; font-weight: bold; }
.tile .label { color: #555; }
section { margin-top: 7mm; }
section + section { break-before: page; }
h2 { font-size: 14pt; border-bottom: 1px solid #999; padding-bottom: 1mm; }
h3 { font-size: 11pt; margin: 5mm 0 1mm; }
.note { color: #555; font-size: 9pt; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin-bottom: 3mm; }
th, td { border-bottom: 1px solid #e0e0e0; padding: 1mm; text-align: left;
         vertical-align: top; }
th { background: #f3f3f3; }
td.n, th.n { text-align: right; }
td.n, td.t { white-space: nowrap; }
tr.above td { border-bottom: none; }
tr.line td { padding-top: 0; color: #444; }
nav ol { columns: 2; }
"""

_NUMERIC = ' class="n"'
"""Numbers right-aligned, their column titles too."""
_ONE_LINE = ' class="t"'
"""A date and time, on one line."""


def page_of(document: Document, lang: str, contents_title: str) -> str:
    """The whole page; `lang` is its HTML language tag."""
    facts = "".join(
        f"<span><b>{escape(name)}</b> {escape(value)}</span>" for name, value in document.facts
    )
    tiles = "".join(
        f'<div class="tile"><div class="value">{escape(t.value)}</div>'
        f'<div class="label">{escape(t.label)}</div></div>'
        for t in document.tiles
    )
    contents = "".join(
        f'<li><a href="#{s.key}">{escape(s.title)}</a></li>' for s in document.sections
    )
    body = "".join(_section(s) for s in document.sections)
    return (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(document.title)}: {escape(document.site)}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<header><h1>{escape(document.title)}</h1>"
        f'<div class="site">{escape(document.site)}</div><div class="facts">{facts}</div>'
        f'</header><div class="tiles">{tiles}</div>'
        f"<nav><h3>{escape(contents_title)}</h3><ol>{contents}</ol></nav>{body}</body></html>"
    )


def _section(section: Section) -> str:
    plots = "".join(f'<figure class="plot">{svg}</figure>' for svg in section.plots)
    tables = "".join(_table(t) for t in section.tables)
    note = f'<p class="note">{escape(section.note)}</p>' if section.note else ""
    return (
        f'<section id="{escape(section.key)}"><h2>{escape(section.title)}</h2>{note}'
        f"{plots}{tables}</section>"
    )


def _table(table: Table) -> str:
    inline = [i for i, c in enumerate(table.columns) if not c.own_line]
    own_lines = [i for i, c in enumerate(table.columns) if c.own_line]
    span = f' colspan="{len(inline)}"'
    head = f"<tr>{''.join(_head(table.columns[i]) for i in inline)}</tr>" + "".join(
        f'<tr><th{span} class="line">{escape(table.columns[i].title)}</th></tr>' for i in own_lines
    )
    above = ' class="above"' if own_lines else ""
    rows = []
    for row in table.rows:
        cells = "".join(_cell(row[i], table.columns[i]) for i in inline)
        lines = "".join(
            f'<tr class="line"><td{span}>{escape(shown(row[i], Form.TEXT))}</td></tr>'
            for i in own_lines
        )
        rows.append(f"<tr{above}>{cells}</tr>{lines}")
    return (
        f'<h3 id="{escape(table.key)}">{escape(table.title)}</h3>'
        f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _head(column: Column) -> str:
    return f"<th{'' if column.form in TEXTS else _NUMERIC}>{escape(column.title)}</th>"


def _cell(cell: Cell, column: Column) -> str:
    if column.form is Form.TIME:
        klass = _ONE_LINE
    else:
        klass = "" if column.form in TEXTS or isinstance(cell, str) else _NUMERIC
    return f"<td{klass}>{escape(shown(cell, column.form))}</td>"
