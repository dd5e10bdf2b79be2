"""`firegw shelve` tells the guard until when the alarm is shelved: against a real Mosquitto
and the alarm service, the CLI prints the end the gateway set, in the terminal's local time
and its UTC offset, with the duration, in Chinese or English."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from firegw.shelf import default_language, shelf_line
from gateway.alarms import FeedTopics
from gateway.config import Site, load_site
from tests.gateway.alarms.test_service import running_service
from tests.mqtt_watch import Watcher
from tests.operators import key_file
from tests.servers import MosquittoServer
from tests.sites import clinic_site

ZONE = "Asia/Shanghai"
FAULTS = ("detector_fault:SD-1F-01", "detector_fault:SD-2F-01")


def shelve(
    site: Site, alarm: str, *more: str, lang: str = "C.UTF-8"
) -> subprocess.CompletedProcess[str]:
    """`firegw shelve` as a supervisor types it, on a terminal in Shanghai with locale `lang`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "FIREGW_"))}
    env |= {"TZ": ZONE, "LANG": lang}
    login = ["--operator", "al", "--key-file", str(key_file(site.path, "al"))]
    return subprocess.run(
        [sys.executable, "-m", "firegw", "shelve", str(site.path), alarm, *login, *more],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def in_shanghai(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M:%S")


async def test_shelve_prints_until_when_in_local_time_and_for_how_long(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """Before: `firegw shelve` printed only "shelve done"."""
    site = load_site(clinic_site(tmp_path, mqtt_port=mosquitto.port))
    chinese, english = FAULTS
    async with (
        Watcher(mosquitto.host, mosquitto.port, FeedTopics.for_site(site)) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fault")
        await running.status("SD-2F-01", "fault")
        for alarm in FAULTS:
            await watcher.event(alarm, "raised")  # after their 10 s on-delay
        zh = await asyncio.to_thread(shelve, site, chinese, "--duration", "15m", lang="zh_CN.UTF-8")
        zh_until = (await watcher.event(chinese, "shelved"))["alarm"]["shelved_until"]
        en = await asyncio.to_thread(shelve, site, english, "--duration", "90s", "--lang", "en")
        en_until = (await watcher.event(english, "shelved"))["alarm"]["shelved_until"]
    assert (zh.returncode, zh.stderr) == (0, "")
    assert zh.stdout == (
        f"{chinese}：已搁置 15 分钟，至本地时间 {in_shanghai(zh_until)}（UTC+08:00）\n"  # noqa: RUF001
    )
    assert (en.returncode, en.stderr) == (0, "")
    assert en.stdout == (
        f"{english}: shelve done, shelved for 1 min 30 s until {in_shanghai(en_until)} "
        "local time (UTC+08:00)\n"
    )


async def test_a_refused_shelf_prints_the_reason_and_no_end(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    site = load_site(clinic_site(tmp_path, mqtt_port=mosquitto.port))
    async with (
        Watcher(mosquitto.host, mosquitto.port, FeedTopics.for_site(site)) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        await watcher.event("fire:SD-1F-01", "raised")
        refused = await asyncio.to_thread(shelve, site, "fire:SD-1F-01", "--duration", "15m")
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        "fire:SD-1F-01: refused: alarm fire:SD-1F-01 is a fire alarm and cannot be shelved; "
        "take the device out of service instead\n"
    )


@pytest.mark.parametrize(
    ("seconds", "lang", "line"),
    [
        (3600, "en", "a: shelve done, shelved for 1 h (its end was not on the broker)"),
        (5400, "en", "a: shelve done, shelved for 1 h 30 min (its end was not on the broker)"),
        (0.5, "en", "a: shelve done, shelved for 0.5 s (its end was not on the broker)"),
        (45, "zh-CN", "a：已搁置 45 秒（未从代理服务器读到结束时间）"),  # noqa: RUF001
    ],
)
def test_without_the_alarms_state_the_line_says_only_how_long(
    seconds: float, lang: str, line: str
) -> None:
    assert shelf_line("a", None, seconds, lang) == line


@pytest.mark.parametrize(
    ("environment", "lang"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
        ({"LC_MESSAGES": "zh_TW.UTF-8", "LANG": "C"}, "zh-CN"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_answer_speaks_the_terminals_language(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], lang: str
) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert default_language() == lang
