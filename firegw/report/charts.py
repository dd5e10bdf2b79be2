"""The report's plots as inline SVG: no plotting library on the box, no file beside the page,
nothing fetched from the internet. Two shapes serve every figure: vertical bars (stacked per
month or per day, with an optional limit line) and horizontal bars (per zone, per device)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["COLOURS", "Series", "columns", "rows"]

COLOURS = {
    "fire": "#c62828",
    "facility": "#1565c0",
    "security": "#6a1b9a",
    "critical": "#b71c1c",
    "high": "#e65100",
    "medium": "#f9a825",
    "low": "#2e7d32",
    "neutral": "#455a64",
}
_FONT = 'font-family="Noto Sans CJK SC, Noto Sans, DejaVu Sans, sans-serif" font-size="11"'


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    colour: str


def columns(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    limit: float | None = None,
    limit_label: str = "",
    width: int = 720,
    height: int = 240,
) -> str:
    """Stacked vertical bars, one per label, with a legend and, if given, a dashed limit."""
    left, bottom, top = 44, 34, 26
    inner_w, inner_h = width - left - 10, height - bottom - top
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    peak = max([*totals, limit or 0.0, 1.0])
    scale = inner_h / peak
    step = inner_w / max(len(labels), 1)
    parts = [_axis(left, top, inner_w, inner_h, peak)]
    every = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        x, base = left + i * step, float(top + inner_h)
        for s in series:
            h = s.values[i] * scale
            if h > 0:
                parts.append(
                    f'<rect x="{x + step * 0.15:.1f}" y="{base - h:.1f}" width="{step * 0.7:.1f}" '
                    f'height="{h:.1f}" fill="{s.colour}"><title>{escape(label)} '
                    f"{escape(s.name)}: {s.values[i]:g}</title></rect>"
                )
                base -= h
        if i % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{top + inner_h + 14}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    if limit is not None:
        y = top + inner_h - limit * scale
        parts.append(
            f'<line x1="{left}" x2="{left + inner_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#000" stroke-dasharray="4 3"/><text x="{left + inner_w}" y="{y - 3:.1f}" '
            f'text-anchor="end">{escape(limit_label)}</text>'
        )
    parts.append(_legend(series, left, height - 8))
    return _svg(width, height, parts)


def rows(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    unit: str = "",
    colour: str = COLOURS["neutral"],
) -> str:
    """Horizontal bars, one per label, longest first as given; the value written beside."""
    height = 18 * len(labels) + 10
    width, left = 720, 240
    peak = max([*values, 1e-9])
    parts = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 5 + i * 18
        w = (width - left - 90) * value / peak
        parts.append(
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="13" fill="{colour}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 12}">{value:,.1f}{escape(unit)}</text>'
        )
    return _svg(width, height, parts)


def _axis(left: int, top: int, width: float, height: float, peak: float) -> str:
    ticks = []
    for i in range(5):
        value = peak * i / 4
        y = top + height - height * i / 4
        ticks.append(
            f'<line x1="{left}" x2="{left + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{value:,.0f}</text>'
        )
    return "".join(ticks)


def _legend(series: Sequence[Series], left: int, y: int) -> str:
    parts, x = [], left
    for s in series:
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{s.colour}"/>'
            f'<text x="{x + 14}" y="{y}">{escape(s.name)}</text>'
        )
        x += 24 + 8 * len(s.name)
    return "".join(parts)


def _svg(width: int, height: int, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" {_FONT}>{"".join(parts)}</svg>'
    )
