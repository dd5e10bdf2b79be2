"""The coverage section: blind spots per zone and month, retention, availability, hydrants."""

from __future__ import annotations

from firegw.report.charts import COLOURS, rows
from firegw.report.coverage import hydrant_limits
from firegw.report.figures import Figures
from firegw.report.section import Section
from firegw.report.tables import Cell, Column, Form, Table
from firegw.report.words import Words
from rules import DeviceKind

__all__ = ["coverage_section"]

_KINDS = (DeviceKind.SMOKE_DETECTOR, DeviceKind.HYDRANT_PRESSURE, DeviceKind.CAMERA)


def coverage_section(figures: Figures, words: Words) -> Section:
    coverage, scope, lang = figures.coverage, figures.scope, words.lang
    months = scope.period.months()
    zones = sorted(coverage.blind_minutes, key=lambda z: -coverage.blind_minutes[z])
    blind = Table(
        "blind_spots",
        words("tables.blind_spots"),
        [
            Column("zone", words("columns.zone")),
            Column("risk", words("columns.risk")),
            *(Column(m, m, Form.MINUTES) for m in months),
            Column("blind_minutes", words("columns.blind_minutes"), Form.MINUTES),
            Column("coverage", words("columns.coverage"), Form.SHARE),
        ],
        [
            [
                scope.zone_name(z, lang),
                words(f"risk.{scope.site.zones[z].risk}") if z in scope.site.zones else "",
                *(coverage.blind_by_month[z][m] for m in months),
                coverage.blind_minutes[z],
                coverage.zone_coverage(z),
            ]
            for z in zones
        ],
    )
    retention = Table(
        "retention",
        words("tables.retention"),
        [
            Column("device", words("columns.device")),
            Column("zone", words("columns.zone")),
            Column("lowest", words("columns.lowest"), Form.NUMBER),
            Column("latest", words("columns.latest"), Form.NUMBER),
            Column("required", words("columns.required"), Form.NUMBER),
            Column("meets", words("columns.meets")),
        ],
        [
            [
                device,
                scope.zone_name(scope.site.devices[device].zone, lang),
                low,
                latest,
                need,
                words("yes") if low >= need else words("no"),
            ]
            for device, (low, latest, need) in sorted(coverage.retention.items())
        ],
    )
    by_kind: list[list[Cell]] = []
    for kind in _KINDS:
        shares = {d: s for d, s in coverage.answered.items() if scope.site.devices[d].kind is kind}
        if shares:
            worst = min(shares, key=lambda d: (shares[d], d))
            by_kind.append(
                [
                    words.console("kind", kind),
                    len(shares),
                    sum(shares.values()) / len(shares),
                    f"{worst} ({shares[worst] * 100:.1f} %)",
                ]
            )
    availability = Table(
        "availability",
        words("tables.availability"),
        [
            Column("kind", words("columns.kind")),
            Column("devices", words("columns.devices"), Form.COUNT),
            Column("answered", words("columns.answered"), Form.SHARE),
            Column("lowest_device", words("columns.lowest_device")),
        ],
        by_kind,
    )
    short = sorted((s, d) for d, s in coverage.answered.items() if s < 1.0)
    devices = Table(
        "availability_devices",
        words("tables.availability_devices"),
        [
            Column("device", words("columns.device")),
            Column("kind", words("columns.kind")),
            Column("zone", words("columns.zone")),
            Column("answered", words("columns.answered"), Form.SHARE),
        ],
        [
            [
                d,
                words.console("kind", scope.site.devices[d].kind),
                scope.zone_name(scope.site.devices[d].zone, lang),
                s,
            ]
            for s, d in short
        ],
    )
    limits = hydrant_limits(scope.site)
    hydrants = Table(
        "hydrants",
        words("tables.hydrants"),
        [
            Column("device", words("columns.device")),
            Column("zone", words("columns.zone")),
            Column("limits", words("columns.limits")),
            Column("minutes_with_data", words("columns.minutes_with_data"), Form.COUNT),
            Column("within_limits", words("columns.within_limits"), Form.SHARE),
        ],
        [
            [
                d,
                scope.zone_name(scope.site.devices[d].zone, lang),
                _limits_text(*limits[d]),
                minutes,
                share,
            ]
            for d, (share, minutes) in coverage.pressure.items()
        ],
    )
    plot = rows(
        [scope.zone_name(z, lang) for z in zones],
        [coverage.blind_minutes[z] for z in zones],
        unit=" min",
        colour=COLOURS["security"],
    )
    note = words("notes.coverage", readings=words(f"readings.{scope.history.readings_from}"))
    return Section(
        "coverage",
        words("sections.coverage"),
        note,
        [plot],
        [blind, retention, availability, devices, hydrants],
    )


def _limits_text(low: float | None, high: float | None) -> str:
    return f"{low if low is not None else '-'} - {high if high is not None else '-'}"
