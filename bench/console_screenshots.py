"""The console's screenshots in docs/: the demo's board in Chinese and English, the wall
screen and a phone, once the demo's scenario has raised its confirmed fire.

    .venv/bin/python -m bench.console_screenshots [--out docs]

Runs `firegw demo` (its own broker, simulators and gateway, and the console) and takes the
pictures with headless Chromium. Chinese text needs a CJK font on the machine
(`apt-get install fonts-wqy-microhei`).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

from bench.console_latency import BROWSER_ARGS, CHROMIUM
from bench.processes import stop_process
from bench.site import REPO, free_ports

SCENARIO_FIRE = 58.0
"""Seconds after the demo starts by which its scenario has raised the confirmed fire."""


async def shoot(out: Path) -> None:
    from playwright.async_api import async_playwright  # noqa: PLC0415 (only here)

    (port,) = free_ports(1)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "firegw",
        "demo",
        "--console-port",
        str(port),
        "--duration",
        "150",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    header = ""
    while "guard console" not in header:
        header += (await process.stdout.readline()).decode()
    drain = asyncio.create_task(process.stdout.read())
    logins = dict(re.findall(r"\b([a-z][a-z.]*)/([^\s,]+)", header))  # wang.fang/PASSWORD
    url = f"http://127.0.0.1:{port}/"
    try:
        await asyncio.sleep(SCENARIO_FIRE)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            for name, lang, operator, view, size in (
                ("console-board-zh", "zh-CN", "wang.fang", "", (1600, 1000)),
                ("console-board-en", "en", "li.na", "", (1600, 1000)),
                ("console-wall-zh", "zh-CN", "wang.fang", "?view=wall", (1920, 1080)),
                ("console-phone-zh", "zh-CN", "wang.fang", "", (390, 844)),
            ):
                context = await browser.new_context(
                    viewport={"width": size[0], "height": size[1]}, locale=lang
                )
                page = await context.new_page()
                await page.goto(f"{url}{view}{'&' if view else '?'}lang={lang}")
                await page.fill("#operator", operator)
                await page.fill("#password", logins[operator])
                await page.click("#login button[type=submit]")
                await page.wait_for_selector("#alarms tr", timeout=30_000)
                await asyncio.sleep(1.5)
                await page.screenshot(path=str(out / f"{name}.png"))
                print(f"wrote {out / name}.png")
                await context.close()
            await browser.close()
    finally:
        await stop_process(process)
        drain.cancel()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    asyncio.run(shoot(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
