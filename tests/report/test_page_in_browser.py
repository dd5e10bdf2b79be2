"""The report's page as a person sees it printed: in a real headless Chromium (Debian's), on
an A4 page, in English and in Chinese, every table fits the page and no word is left in the
other language or as a catalogue key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from firegw.main import main
from gateway.config import Site
from tests.console.conftest import WAIT_MS
from tests.servers import InfluxServer

PERIOD = ["--from", "2026-02-28", "--to", "2026-03-01"]
A4_PX = (794, 1123)
"""An A4 page at CSS's 96 pixels to the inch, as the README's picture is taken."""
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
KEY = re.compile(r"\b(?:columns|tables|notes|figures|sections|targets|step|outcome|list)\.\w+")
"""A catalogue key shown because its words are missing."""

_TOO_WIDE = """() => {
    const page = document.body.getBoundingClientRect().right;
    return [...document.querySelectorAll("table, figure, .tiles, h1, h2, h3, p")]
        .filter(e => e.getBoundingClientRect().right > page + 1)
        .map(e => e.id || e.previousElementSibling?.id || e.tagName);
}"""
"""What sticks out past the page's right margin (a table too wide for A4)."""


async def printed(browser: Any, html: Path) -> Any:
    width, height = A4_PX
    page = await browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(WAIT_MS)
    await page.emulate_media(media="print")
    await page.goto(html.as_uri())
    return page


def report(site: Site, out: Path, lang: str) -> Path:
    assert main(["report", str(site.path), *PERIOD, "--lang", lang, "--out", str(out)]) == 0
    return out / "report.html"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_every_table_fits_the_printed_page(
    influx_with_period: tuple[InfluxServer, Site], tmp_path: Path, browser: Any, lang: str
) -> None:
    """Before: in English the response tables ran 82 px past the page, the timelines one word
    wide."""
    _, site = influx_with_period
    page = await printed(browser, report(site, tmp_path, lang))
    assert await page.evaluate(_TOO_WIDE) == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= A4_PX[0]
    assert KEY.findall(await page.inner_text("body")) == []


async def test_the_english_page_reads_as_english(
    influx_with_period: tuple[InfluxServer, Site], tmp_path: Path, browser: Any
) -> None:
    _, site = influx_with_period
    page = await printed(browser, report(site, tmp_path, "en"))
    text = await page.inner_text("body")
    assert CJK.findall(text) == []
    assert "The rule applies to critical and high alarms;" in text  # was "critical, high"
    first = page.locator("#response_worst + table tbody tr")
    assert await first.nth(0).locator("td").first.inner_text() == "2026-02-28 09:00:00"
    assert await first.nth(1).inner_text() == (
        "+0s Raised; +20s Condition gone; +60s Escalated; +90s Acknowledged (chen.wei)"
    )
