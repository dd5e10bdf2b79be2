"""The console's words and its pieces that need no servers: the catalogues, the alarm text
per rule, passwords, sessions, the login limit and the board's rebuild after a reconnect."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from firegw.console.auth import (
    Accounts,
    LoginLimit,
    Sessions,
    hash_password,
    parse_hash,
    verify_password,
)
from firegw.console.board import Board
from firegw.console.i18n import LANGUAGES, alarm_text, catalog, language
from firegw.console.places import Places
from firegw.main import main
from gateway.config import load_site
from rules.defaults import default_table
from tests.console.conftest import add_passwords, password_of
from tests.sites import clinic_site


@pytest.fixture
def places(tmp_path: Path) -> Places:
    return Places([load_site(add_passwords(clinic_site(tmp_path, mqtt_port=1883)))])


def alarm(rule: str, device: str | None = "SD-1F-01", **fields: Any) -> dict[str, Any]:
    return {
        "id": f"{rule}:{device or 'main-1f-er'}",
        "site": "demo",
        "rule": rule,
        "device": device,
        "zone": "main-1f-er",
        "building": "main",
        "message": f"the feed's own words for {rule}",
        **fields,
    }


def test_both_catalogues_have_the_same_words() -> None:
    english, chinese = catalog("en"), catalog("zh-CN")
    assert set(english) == set(chinese)
    for section in english:
        if isinstance(english[section], dict):
            assert set(english[section]) == set(chinese[section]), section


def test_every_default_rule_has_its_text_in_every_language() -> None:
    rules = {rule.name for rule in default_table()} | {"out_of_service"}
    for lang in LANGUAGES:
        assert rules <= set(catalog(lang)["rule"]), lang


def test_alarm_text_names_the_zone_the_kind_and_the_value(places: Places) -> None:
    fire = alarm("fire", value="fire")
    assert alarm_text(fire, places, "zh-CN") == "急诊室 1F 感烟探测器 SD-1F-01 火警"
    assert alarm_text(fire, places, "en") == "Smoke detector SD-1F-01 in fire (Emergency room, 1F)"
    low = alarm("pressure_low", "HP-1F-01", value=0.062)
    assert (
        alarm_text(low, places, "zh-CN")
        == "急诊室 1F 消火栓压力变送器 HP-1F-01 水压低于下限：0.062 MPa"  # noqa: RUF001
    )
    confirmed = alarm("confirmed_fire", None, value=2)
    assert alarm_text(confirmed, places, "zh-CN") == "急诊室 1F 确认火警：2 个探测器报火警"  # noqa: RUF001
    out = alarm("out_of_service", "SD-1F-01", out_of_service_by="al")
    out["id"] = "out_of_service:SD-1F-01"
    assert alarm_text(out, places, "en").startswith(
        "Smoke detector SD-1F-01 out of service (by al)"
    )
    gateway = alarm("history_not_stored", "firegw-demo", zone="", building="")
    assert alarm_text(gateway, places, "zh-CN") == "网关：历史数据未写入数据库"  # noqa: RUF001


def test_a_rule_the_catalogue_lacks_shows_the_feeds_message(places: Places) -> None:
    custom = alarm("site_specific_rule")
    assert alarm_text(custom, places, "zh-CN") == "the feed's own words for site_specific_rule"


def test_a_zone_without_a_chinese_name_shows_its_english_one(tmp_path: Path) -> None:
    site_file = clinic_site(tmp_path, mqtt_port=1883)
    site_file.write_text(site_file.read_text().replace(', name_zh: "急诊室 1F"', ""))
    places = Places([load_site(site_file)])
    assert places.zone("demo", "main-1f-er", "zh-CN") == "Emergency room, 1F"
    assert places.zone("demo", "main-2f-ward", "zh-CN") == "病房 2F"
    assert places.zone("demo", "unknown-zone", "zh-CN") == "unknown-zone"


@pytest.mark.parametrize(
    ("asked", "chosen"),
    [
        ("zh", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("en-GB", "en"),
        ("fr, en;q=0.8", "en"),
        ("", "zh-CN"),
    ],
)
def test_the_language_a_browser_asks_for(asked: str, chosen: str) -> None:
    assert language(asked) == chosen


def test_a_password_hash_is_scrypt_and_salted() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    assert first.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", first)
    assert not verify_password("correct horse!", first)
    for broken in ("plain-text", "scrypt$1$2$3$x$y", "bcrypt$16384$8$1$AAAA$BBBB"):
        with pytest.raises(ValueError, match=r"scrypt|hash"):
            parse_hash(broken)


def test_password_hash_command_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["password-hash"]) == 0
    assert verify_password("a long enough password", capsys.readouterr().out.strip())
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["password-hash"]) == 1


async def test_sessions_outlive_a_console_restart_and_end_at_logout(tmp_path: Path) -> None:
    site = load_site(add_passwords(clinic_site(tmp_path, mqtt_port=1883)))
    accounts = Accounts.for_places(list(Places([site]).sites.values()))
    person = await accounts.login("bo", password_of("bo"))
    assert person is not None
    assert person.may("demo", "acknowledge")
    assert not person.may("demo", "reset")
    assert await accounts.login("bo", "wrong-password") is None
    sessions = Sessions(tmp_path / "sessions.sqlite", accounts)
    token, session = sessions.create(person, "zh-CN")
    sessions.close()
    again = Sessions(tmp_path / "sessions.sqlite", accounts)  # the console restarted
    restored = again.get(token)
    assert restored is not None
    assert (restored.person.id, restored.lang, restored.csrf) == ("bo", "zh-CN", session.csrf)
    assert token not in (tmp_path / "sessions.sqlite").read_bytes().decode(errors="replace")
    again.delete(token)
    assert again.get(token) is None


def test_the_login_limit_counts_failures_per_address() -> None:
    limit = LoginLimit(failures=3, window=60)
    for _ in range(3):
        assert limit.wait("10.0.0.1") == 0
        limit.failed("10.0.0.1")
    assert limit.wait("10.0.0.1") > 0
    assert limit.wait("10.0.0.2") == 0
    limit.succeeded("10.0.0.1")
    assert limit.wait("10.0.0.1") == 0


def test_after_a_reconnect_the_board_drops_what_is_no_longer_retained(places: Places) -> None:
    board = Board(places)
    listener = board.listen("en")
    board.set_alarm("demo", "fire:SD-1F-01", alarm("fire"))
    board.set_alarm("demo", "fire:SD-1F-02", alarm("fire", "SD-1F-02"))
    board.begin_rebuild(["demo"])
    board.set_alarm("demo", "fire:SD-1F-02", alarm("fire", "SD-1F-02", state="acknowledged"))
    board.end_rebuild(["demo"])
    assert list(board.alarms) == ["demo/fire:SD-1F-02"]
    messages = []
    while not listener.queue.empty():
        kind, data = listener.queue.get_nowait().decode().split("\n")[:2]
        messages.append((kind.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    assert [kind for kind, _ in messages] == ["snapshot", "alarm", "alarm", "alarm", "gone"]
    assert messages[-1][1] == {"key": "demo/fire:SD-1F-01"}
