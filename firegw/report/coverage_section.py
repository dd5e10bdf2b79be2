"""The coverage section: blind spots per zone and month, retention, availability, hydrants."""

from __future__ import annotations

from firegw.report.charts import COLOURS, rows
from firegw.report.coverage import hydrant_limits
from firegw.report.figures import Figures
from firegw.report.section import Section
from firegw.report.tables import Cell, Column, Form
from firegw.report.titled import titled_table
from firegw.report.words import Words
from rules import DeviceKind

__all__ = ["coverage_section"]

_KINDS = (DeviceKind.SMOKE_DETECTOR, DeviceKind.HYDRANT_PRESSURE, DeviceKind.CAMERA)


def coverage_section(figures: Figures, words: Words) -> Section:
    coverage, scope, lang = figures.coverage, figures.scope, words.lang
    months = scope.period.months()
    zones = sorted(coverage.blind_minutes, key=lambda z: -coverage.blind_minutes[z])
    blind = titled_table(
        words,
        "blind_spots",
        [
            "zone",
            "risk",
            *(Column(m, m, Form.MINUTES) for m in months),
            ("blind_minutes", Form.MINUTES),
            ("coverage", Form.SHARE),
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
    retention = titled_table(
        words,
        "retention",
        [
            "device",
            "zone",
            ("lowest", Form.NUMBER),
            ("latest", Form.NUMBER),
            ("required", Form.NUMBER),
            "meets",
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
    availability = titled_table(
        words,
        "availability",
        ["kind", ("devices", Form.COUNT), ("answered", Form.SHARE), "lowest_device"],
        by_kind,
    )
    short = sorted((s, d) for d, s in coverage.answered.items() if s < 1.0)
    devices = titled_table(
        words,
        "availability_devices",
        ["device", "kind", "zone", ("answered", Form.SHARE)],
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
    hydrants = titled_table(
        words,
        "hydrants",
        [
            "device",
            "zone",
            "limits",
            ("minutes_with_data", Form.COUNT),
            ("within_limits", Form.SHARE),
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
