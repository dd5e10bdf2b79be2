"""`firegw report` as people run it: the page and the CSV files, both languages, and one-line
errors for options that make no period and for a database that does not answer."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from firegw.main import main
from gateway.config import Site
from tests.report.scenario import store_in_influx, write_lines, write_site
from tests.servers import InfluxServer, free_port

PERIOD = ["--from", "2026-02-28", "--to", "2026-03-01"]
TABLES = {
    "hazards_by_month",
    "hazards_by_building",
    "hazards_by_zone",
    "hazards_high_risk",
    "response",
    "response_worst",
    "rectification",
    "rectification_people",
    "glitches",
    "blind_spots",
    "retention",
    "availability",
    "availability_devices",
    "hydrants",
    "health",
    "priorities",
    "noisiest",
    "alarms_per_day",
}


def rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as table:
        return list(csv.reader(table))


def test_the_report_is_a_page_and_a_csv_file_per_table(
    influx_with_period: tuple[InfluxServer, Site],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, site = influx_with_period
    out = tmp_path / "march"
    assert main(["report", str(site.path), *PERIOD, "--lang", "en", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"{out / 'report.html'}  (18 CSV files beside it)"
    assert {p.stem for p in out.glob("*.csv")} == TABLES
    assert rows(out / "hazards_by_month.csv") == [
        ["Month", "Fire", "Facility", "Security", "Total"],
        ["2026-02", "2", "4", "2", "8"],
        ["2026-03", "4", "1", "1", "6"],
        ["Total", "6", "5", "3", "14"],
    ]
    assert rows(out / "blind_spots.csv")[1:] == [
        ["Ward, 2F", "high", "45", "0", "45", "0.984375"],
        ["Plant room, B1", "medium", "10", "20", "30", "0.989583"],
        ["Emergency room, 1F", "high", "0", "0", "0", "1"],
    ]
    page = (out / "report.html").read_text()
    assert "<h1>Fire-safety and security report</h1>" in page
    assert "88.9 %" in page  # the rectification rate, 8 of 9
    assert "<svg" in page
    for fetched in ("<script", "<link", "<img", "src=", 'href="http', "url("):
        assert fetched not in page  # nothing is fetched: the page works mailed or archived


def test_the_report_speaks_chinese_by_default(
    influx_with_period: tuple[InfluxServer, Site], tmp_path: Path
) -> None:
    _, site = influx_with_period
    assert main(["report", str(site.path), *PERIOD, "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "消防与安防工作报告" in page
    assert "急诊室 1F" in page  # the zone's Chinese name
    assert "2026-02-28 至 2026-03-01" in page
    assert rows(tmp_path / "blind_spots.csv")[1][:2] == ["病房 2F", "高"]  # its risk, in words
    assert rows(tmp_path / "rectification.csv")[0][:4] == ["类别", "人工整改", "自行恢复", "未完成"]
    high_risk = [row[:3] for row in rows(tmp_path / "hazards_high_risk.csv")[1:]]
    assert high_risk == [["病房 2F", "主楼", "高"], ["急诊室 1F", "主楼", "高"], ["合计", "", "高"]]


def test_options_that_make_no_period_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = write_site(tmp_path, None)
    assert main(["report", str(site.path), "--month", "March"]) == 2
    assert capsys.readouterr().err == (
        "firegw report: --month: expected a date such as 2026-03, got 'March'\n"
    )


def test_a_database_that_does_not_answer_is_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = InfluxServer(tmp_path / "nobody", port=free_port())
    site = write_site(tmp_path, nobody)
    assert main(["report", str(site.path), *PERIOD, "--out", str(tmp_path / "r")]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"{site.path}: InfluxDB {nobody.url}: cannot query: ")
    assert error.count("\n") == 1


def test_an_event_no_gateway_wrote_is_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with InfluxServer(tmp_path / "influxd").start() as influx:
        site = write_site(tmp_path, influx)
        store_in_influx(influx, site, [])
        line = (
            "alarm_event,building=main,class=weather,priority=high,rule=fire,site=demo,zone=z"
            ' alarm_id="fire:SD-1",kind="raised",state="unacknowledged" 1772236800000000000'
        )
        write_lines(influx, [line])
        assert main(["report", str(site.path), *PERIOD, "--out", str(tmp_path / "r")]) == 1
    error = capsys.readouterr().err
    assert error == (
        f"{site.path}: InfluxDB {influx.url}: alarm_event: unknown class or priority 'weather'\n"
    )


def test_a_folder_that_cannot_be_written_is_named_in_one_line(
    influx_with_period: tuple[InfluxServer, Site],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, site = influx_with_period
    (tmp_path / "taken").write_text("a file, not a folder")
    out = tmp_path / "taken" / "report"
    assert main(["report", str(site.path), *PERIOD, "--out", str(out)]) == 1
    assert capsys.readouterr().err == f"firegw report: cannot write {out}: Not a directory\n"


def test_without_stores_the_report_says_the_gateway_has_not_run_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = write_site(tmp_path, None)
    assert main(["report", str(site.path), *PERIOD, "--out", str(tmp_path / "r")]) == 1
    assert capsys.readouterr().err == (
        f"{site.path}: {site.alarm_store_path}: no such store (has the gateway run here?)\n"
    )
