"""The report as sections of tiles, plots and tables, in one language: what the page shows,
in the order it shows it, and what the CSV files hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from firegw.report.charts import COLOURS, Series, columns, rows
from firegw.report.classes import HAZARD_CLASSES
from firegw.report.coverage_section import coverage_section
from firegw.report.episodes import Episode, Outcome
from firegw.report.figures import Figures
from firegw.report.health import FLOOD_ABOVE
from firegw.report.response import STEPS
from firegw.report.section import Section
from firegw.report.tables import Cell, Column, Form, Table, shown
from firegw.report.titled import Heading, titled_table
from firegw.report.words import Words
from gateway.config import HazardClass
from rules import AlarmEvent, Priority

__all__ = ["Document", "Section", "Tile", "document_of"]

_OUTCOMES = (Outcome.RECTIFIED, Outcome.SELF_CLEARED, Outcome.OPEN)


@dataclass(frozen=True)
class Tile:
    label: str
    value: str


@dataclass(frozen=True)
class Document:
    title: str
    site: str
    facts: list[tuple[str, str]]
    tiles: list[Tile]
    sections: list[Section]

    @property
    def tables(self) -> list[Table]:
        return [table for section in self.sections for table in section.tables]


def document_of(figures: Figures, words: Words, made: str) -> Document:
    scope = figures.scope
    site = scope.site.config.site
    facts = [
        (
            words("period"),
            words("period_range", first=scope.period.first_day, last=scope.period.last_day),
        ),
        (words("made"), made),
        (words("source"), scope.history.source),
    ]
    sections = [
        _hazards(figures, words),
        _response(figures, words),
        _rectification(figures, words),
        coverage_section(figures, words),
        _health(figures, words),
    ]
    return Document(words("title"), site.name, facts, _tiles(figures, words), sections)


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f} %"


def _tiles(figures: Figures, words: Words) -> list[Tile]:
    hazards, coverage = figures.hazards, figures.coverage
    ack = figures.response.limits["acknowledge"]
    acknowledged = [s["acknowledge"] for s in figures.response.classes.values()]
    count = sum(s.count for s in acknowledged)
    cameras = list(coverage.blind_minutes)
    blind = sum(coverage.blind_minutes.values())
    retention = list(coverage.retention.values())
    answered = list(coverage.answered.values())
    hydrants = [share for share, n in coverage.pressure.values() if share is not None]
    return [
        Tile(words("figures.hazards_total"), f"{sum(hazards.total.values()):,}"),
        Tile(words("figures.rectification_rate"), _pct(figures.rectification.rate())),
        Tile(
            words("figures.ack_within", limit=_duration(ack)),
            _pct(sum(s.within for s in acknowledged) / count if count else None),
        ),
        Tile(
            words("figures.camera_coverage"),
            _pct(1 - blind / (coverage.period_minutes * len(cameras)) if cameras else None),
        ),
        Tile(
            words("figures.retention_met", days=f"{retention[0][2]:g}" if retention else "90"),
            f"{sum(1 for low, _, need in retention if low >= need)} / {len(retention)}",
        ),
        Tile(
            words("figures.availability"), _pct(sum(answered) / len(answered) if answered else None)
        ),
        Tile(
            words("figures.pressure_within"),
            _pct(sum(hydrants) / len(hydrants) if hydrants else None),
        ),
        Tile(words("figures.per_10_min"), f"{figures.health.per_10_min:.2f}"),
        Tile(words("figures.time_in_flood"), _pct(figures.health.time_in_flood)),
    ]


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _class_columns(words: Words) -> list[Heading]:
    classes = [Column(str(k), words(f"hazard_class.{k}"), Form.COUNT) for k in HAZARD_CLASSES]
    return [*classes, ("total", Form.COUNT)]


def _class_cells(counts: dict[HazardClass, int]) -> list[Cell]:
    return [*(counts.get(k, 0) for k in HAZARD_CLASSES), sum(counts.values())]


def _hazards(figures: Figures, words: Words) -> Section:
    hazards, scope, lang = figures.hazards, figures.scope, words.lang
    months = list(hazards.by_month)
    by_month = titled_table(
        words,
        "hazards_by_month",
        ["month", *_class_columns(words)],
        [[m, *_class_cells(c)] for m, c in hazards.by_month.items()]
        + [[words("columns.total"), *_class_cells(hazards.total)]],
    )
    buildings = titled_table(
        words,
        "hazards_by_building",
        ["building", *_class_columns(words)],
        [
            [scope.building_name(b, lang) if b else words("no_zone"), *_class_cells(c)]
            for b, c in sorted(hazards.by_building.items())
        ],
    )
    zone_columns = ["zone", "building", "risk", *_class_columns(words)]
    zone_rows, high_rows = [], []
    for zone_id, counts in sorted(hazards.by_zone.items(), key=lambda i: -sum(i[1].values())):
        zone = scope.site.zones.get(zone_id)
        building = scope.building_name(zone.building, lang) if zone else ""
        risk = words(f"risk.{zone.risk}") if zone else ""
        name = scope.zone_name(zone_id, lang) if zone_id else words("no_zone")
        zone_rows.append([name, building, risk, *_class_cells(counts)])
        if zone is not None and zone.risk == "high":  # as hazards.high_risk counts them
            high_rows.append(zone_rows[-1])
    zones = titled_table(words, "hazards_by_zone", zone_columns, zone_rows)
    high = titled_table(
        words,
        "hazards_high_risk",
        zone_columns,
        [
            *high_rows,
            [words("columns.total"), "", words("risk.high"), *_class_cells(hazards.high_risk)],
        ],
    )
    plot = columns(
        months,
        [
            Series(
                words(f"hazard_class.{k}"),
                [hazards.by_month[m][k] for m in months],
                COLOURS[str(k)],
            )
            for k in HAZARD_CLASSES
        ],
    )
    note = words("notes.hazards", glitches=hazards.glitches, consequences=hazards.consequences)
    return Section(
        "hazards", words("sections.hazards"), note, [plot], [by_month, buildings, zones, high]
    )


def _response(figures: Figures, words: Words) -> Section:
    response = figures.response
    limits = response.limits
    rule = "/".join(f"{limits[s] / 60:g}" for s in STEPS) + " min"
    step_columns: list[Heading] = [
        "step",
        ("count", Form.COUNT),
        ("reached", Form.COUNT),
        ("median", Form.SECONDS),
        ("p90", Form.SECONDS),
        ("worst", Form.SECONDS),
        ("limit", Form.SECONDS),
        ("within", Form.SHARE),
    ]
    table_rows: list[list[Cell]] = []
    for (kind, priority), spreads in response.groups.items():
        for step in STEPS:
            s = spreads[step]
            table_rows.append(
                [
                    words(f"hazard_class.{kind}"),
                    words.console("priority", priority),
                    words(f"step.{step}"),
                    s.count,
                    s.reached,
                    s.median,
                    s.p90,
                    s.worst,
                    limits[step],
                    s.share_within,
                ]
            )
    groups = titled_table(words, "response", ["class", "priority", *step_columns], table_rows)
    worst = titled_table(
        words,
        "response_worst",
        [
            ("raised", Form.TIME),
            "alarm",
            "class",
            "late_step",
            ("late_by", Form.SECONDS),
            ("ack", Form.SECONDS),
            ("on_site", Form.SECONDS),
            ("contain", Form.SECONDS),
            Column("timeline", words("columns.timeline"), own_line=True),
        ],
        [
            [
                figures.scope.period.local(late.episode.raised_at).strftime("%Y-%m-%d %H:%M:%S"),
                _alarm_place(figures, late.episode, words),
                words(f"hazard_class.{late.hazard_class}"),
                words(f"step.{late.step}"),
                late.seconds_late,
                late.times["acknowledge"],
                late.times["on_site"],
                late.times["contain"],
                _timeline(late.episode.events, late.episode.raised_at, words),
            ]
            for late in response.worst
        ],
    )
    classes = list(response.classes)
    plot = columns(
        [words(f"hazard_class.{k}") for k in classes],
        [
            Series(
                words(f"step.{step}"),
                [(response.classes[k][step].median or 0.0) for k in classes],
                colour,
            )
            for step, colour in zip(STEPS, ("#1565c0", "#f9a825", "#2e7d32"), strict=True)
        ],
    )
    priorities = words.listing([words.console("priority", p) for p in response.priorities])
    note = words("notes.response", priorities=priorities)
    return Section("response", words("sections.response", rule=rule), note, [plot], [groups, worst])


def _alarm_place(figures: Figures, episode: Episode, words: Words) -> str:
    zone = figures.scope.zone_name(episode.first.alarm.zone, words.lang)
    return f"{episode.alarm_id} ({zone})"


def _timeline(events: Sequence[AlarmEvent], start: int, words: Words) -> str:
    """ "+0s raised; +75s acknowledged (chen.wei); ...": the activation as it went."""
    parts = []
    for event in events:
        text = f"+{(event.at - start) / 1e9:.0f}s {words.console('event', event.kind)}"
        parts.append(f"{text} ({event.by})" if event.by else text)
    return "; ".join(parts)


def _rectification(figures: Figures, words: Words) -> Section:
    rect = figures.rectification
    outcome_columns = [Column(o, words(f"outcome.{o}"), Form.COUNT) for o in _OUTCOMES]
    outcomes = titled_table(
        words,
        "rectification",
        ["class", *outcome_columns, ("rate", Form.SHARE)],
        [
            [words(f"hazard_class.{k}"), *(rect.outcomes[k][o] for o in _OUTCOMES), rect.rate(k)]
            for k in HAZARD_CLASSES
        ]
        + [
            [
                words("columns.total"),
                *(sum(rect.outcomes[k][o] for k in HAZARD_CLASSES) for o in _OUTCOMES),
                rect.rate(),
            ]
        ],
    )
    people = titled_table(
        words,
        "rectification_people",
        ["person", ("rectified", Form.COUNT), ("median_minutes", Form.MINUTES)],
        [[who, c.count, c.median_minutes] for who, c in rect.people.items()],
    )
    glitches = titled_table(
        words, "glitches", outcome_columns, [[rect.glitches[o] for o in _OUTCOMES]]
    )
    return Section(
        "rectification",
        words("sections.rectification"),
        words("notes.rectification"),
        [],
        [outcomes, people, glitches],
    )


def _health(figures: Figures, words: Words) -> Section:
    health = figures.health
    targets: list[tuple[str, Cell, Form, str]] = [
        ("announced", health.announced, Form.COUNT, ""),
        ("per_10_min", health.per_10_min, Form.NUMBER, words("targets.per_10_min")),
        ("peak_10_min", health.peak_10_min, Form.COUNT, words("targets.peak_10_min")),
        ("floods", health.floods, Form.COUNT, ""),
        ("time_in_flood", health.time_in_flood, Form.SHARE, words("targets.time_in_flood")),
        ("chattering", len(health.chattering), Form.COUNT, words("targets.chattering")),
        ("stale", len(health.stale), Form.COUNT, words("targets.stale")),
    ]
    load = titled_table(
        words,
        "health",
        ["figure", "value", "target"],
        [
            [words(f"health_rows.{key}"), shown(value, form), target]
            for key, value, form, target in targets
        ],
    )
    shares: list[list[Cell]] = [
        [words.console("priority", p), health.priorities[p], health.share(p)] for p in Priority
    ]
    shares.append([words("columns.target"), None, words("targets.priorities")])
    priorities = titled_table(
        words, "priorities", ["priority", ("count", Form.COUNT), ("share", Form.SHARE)], shares
    )
    noisiest = titled_table(
        words,
        "noisiest",
        ["device", ("count", Form.COUNT)],
        [[source, n] for source, n in health.noisiest],
    )
    days = [d for d, _, _ in health.per_day]
    plot = columns(
        days,
        [Series(words("columns.peak"), [float(p) for _, _, p in health.per_day], COLOURS["high"])],
        limit=FLOOD_ABOVE,
        limit_label=f"> {FLOOD_ABOVE}",
    )
    per_day = titled_table(
        words,
        "alarms_per_day",
        ["date", ("announced", Form.COUNT), ("peak", Form.COUNT)],
        [[d, n, p] for d, n, p in health.per_day],
    )
    bars = rows([s for s, _ in health.noisiest], [float(n) for _, n in health.noisiest])
    note = words("notes.health", flood=FLOOD_ABOVE)
    return Section(
        "health",
        words("sections.health"),
        note,
        [plot, bars],
        [load, priorities, noisiest, per_day],
    )
