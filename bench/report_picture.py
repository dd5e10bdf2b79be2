"""The pictures of the safety report's first page in the README: docs/report-first-page-zh.png
and, with `--lang en`, docs/report-first-page-en.png.

    .venv/bin/python -m bench.report_picture [--out docs] [--lang zh-CN]

Plays the report tests' synthetic period (`tests/report/scenario.py`: two days of the demo
clinic through the real rules engine, with a fire, a confirmed fire, a flood, cameras dark
and hydrants out of limits) into a real InfluxDB 1.x, runs `firegw report` on it as a person
would, and takes the first A4 page of `report.html` with headless Chromium, as printed.
Chinese text needs a CJK font on the machine (`apt-get install fonts-noto-cjk`).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.console_latency import BROWSER_ARGS, CHROMIUM
from bench.site import REPO
from tests.report.scenario import play, store_in_influx, write_site
from tests.servers import InfluxServer

A4_PX = (794, 1123)
"""An A4 page at CSS's 96 pixels to the inch."""


def _report(folder: Path, lang: str) -> Path:
    """The scenario's report, written by the command into `folder`/report."""
    with InfluxServer(folder / "influxd").start() as influx:
        site = write_site(folder, influx)
        store_in_influx(influx, site, play(site))
        out = folder / "report"
        command = [sys.executable, "-m", "firegw", "report", str(site.path)]
        command += ["--from", "2026-02-28", "--to", "2026-03-01", "--lang", lang]
        subprocess.run([*command, "--out", str(out)], check=True, cwd=REPO, capture_output=True)
    return out / "report.html"


async def shoot(html: Path, picture: Path) -> None:
    from playwright.async_api import async_playwright  # noqa: PLC0415 (only here)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        width, height = A4_PX
        page = await browser.new_page(
            viewport={"width": width, "height": height}, device_scale_factor=1.5
        )
        await page.emulate_media(media="print")
        await page.goto(html.as_uri())
        await page.screenshot(
            path=str(picture),
            clip={"x": 0.0, "y": 0.0, "width": float(width), "height": float(height)},
        )
        await browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--lang", default="zh-CN", choices=("zh-CN", "en"))
    args = parser.parse_args(argv)
    picture = args.out / f"report-first-page-{args.lang.partition('-')[0]}.png"
    with tempfile.TemporaryDirectory(prefix="firegw-report-picture-") as name:
        html = _report(Path(name), args.lang)
        asyncio.run(shoot(html, picture))
    print(picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
