"""What `firegw shelve` prints once the gateway has shelved an alarm: until when (the local
time of the machine the guard types on) and for how long, in Chinese or English."""

from __future__ import annotations

import datetime as dt
import os

__all__ = ["LANGUAGES", "default_language", "shelf_line"]

LANGUAGES = ("zh-CN", "en")

_LINES = {
    "en": "{alarm}: shelve done, shelved for {duration} until {until} local time ({offset})",
    "zh-CN": "{alarm}：已搁置 {duration}，至本地时间 {until}（{offset}）",  # noqa: RUF001 (Chinese punctuation)
}
_UNSEEN = {
    "en": "{alarm}: shelve done, shelved for {duration} (its end was not on the broker)",
    "zh-CN": "{alarm}：已搁置 {duration}（未从代理服务器读到结束时间）",  # noqa: RUF001
}
_UNITS = {"en": ("h", "min", "s"), "zh-CN": ("小时", "分钟", "秒")}


def default_language() -> str:
    """zh-CN when the terminal's locale is Chinese (LC_ALL, LC_MESSAGES or LANG), else en."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if value := os.environ.get(name):
            return "zh-CN" if value.lower().startswith("zh") else "en"
    return "en"


def shelf_line(alarm_id: str, until_ns: int | None, seconds: float, lang: str) -> str:
    """The line for an alarm shelved for `seconds` until `until_ns` (wall-clock ns, as the
    gateway set it; None when its state could not be read)."""
    duration = _duration(seconds, lang)
    if until_ns is None:
        return _UNSEEN[lang].format(alarm=alarm_id, duration=duration)
    local = dt.datetime.fromtimestamp(until_ns / 1e9).astimezone()
    zone = local.strftime("%z")  # +0800
    until = local.strftime("%Y-%m-%d %H:%M:%S")
    offset = f"UTC{zone[:3]}:{zone[3:5]}"
    return _LINES[lang].format(alarm=alarm_id, until=until, offset=offset, duration=duration)


def _duration(seconds: float, lang: str) -> str:
    """`1 h 30 min`, `15 min`, `45 s`; `1 小时 30 分钟`."""
    hour, minute, second = _UNITS[lang]
    hours, rest = divmod(seconds, 3600)
    minutes, rest = divmod(rest, 60)
    parts = [f"{n:g} {unit}" for n, unit in ((hours, hour), (minutes, minute)) if n]
    if rest or not parts:
        parts.append(f"{round(rest, 3):g} {second}")
    return " ".join(parts)
