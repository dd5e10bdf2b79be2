"""The console's test kit: sites whose operators have console passwords, a running console,
an HTTP client logged in as someone, and a real headless Chromium (Debian's package)."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from firegw.console import Console, hash_password
from gateway.config import Site, load_site
from tests.operators import ROLES
from tests.servers import MosquittoServer
from tests.sites import clinic_site

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 30_000
"""Browser waits: generous, for a loaded machine."""


def password_of(operator: str) -> str:
    return f"{operator}-pass-phrase"


def add_passwords(site_file: Path) -> Path:
    """Give every operator of a test site (tests/operators.py) a console password."""
    folder = site_file.parent / "operators"
    hashes = {}
    for operator in ROLES:
        path = folder / f"{operator}.password"
        path.write_text(hash_password(password_of(operator)) + "\n")
        path.chmod(0o600)
        hashes[operator] = path

    def with_password(match: re.Match[str]) -> str:
        return f"{match.group(1)}}}, password: {{file: {hashes[match.group(2)]}}}}}"

    text = re.sub(
        r"(  - \{id: ([a-z0-9.]+), name: .*, key: \{file: [^}]+)\}\}",
        with_password,
        site_file.read_text(),
    )
    site_file.write_text(text)
    return site_file


def console_site(folder: Path, broker: MosquittoServer, **options: Any) -> Site:
    """The demo clinic (Chinese names included) on the test's broker, with its own topics,
    operators with keys and console passwords."""
    folder.mkdir(parents=True, exist_ok=True)
    return load_site(add_passwords(clinic_site(folder, mqtt_port=broker.port, **options)))


@asynccontextmanager
async def running_console(
    sites: list[Site], *, port: int = 0, state: Path | None = None, **options: Any
) -> AsyncIterator[Console]:
    """A console on 127.0.0.1 (`console.url`), quick to settle and to reconnect."""
    tls = options.pop("tls", None)
    console = Console(
        sites,
        state=state,
        settle=0.2,
        reconnect_initial=0.2,
        client_id=f"test-console-{uuid.uuid4().hex[:8]}",
        **options,
    )
    started = asyncio.Event()
    task = asyncio.create_task(
        console.run("127.0.0.1", port, tls=tls, started=lambda url: started.set())
    )
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiting}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()  # raises what stopped it
    assert started.is_set(), "the console did not start within 30 s"
    try:
        yield console
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Api:
    """An HTTP client of the console, logged in as one operator."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url.rstrip("/")
        self.csrf = ""
        self.session: dict[str, Any] = {}

    async def login(self, operator: str, password: str | None = None) -> aiohttp.ClientResponse:
        response = await self.http.post(
            f"{self.url}/api/login",
            json={"operator": operator, "password": password or password_of(operator)},
        )
        if response.status == 200:
            self.session = await response.json()
            self.csrf = self.session["csrf"]
        return response

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.url}{path}") as response:
            return response.status, await response.json()

    async def post(self, path: str, body: dict[str, Any], **headers: str) -> tuple[int, Any]:
        sent = {"X-CSRF-Token": self.csrf, **headers}
        async with self.http.post(f"{self.url}{path}", json=body, headers=sent) as response:
            return response.status, await response.json()


@asynccontextmanager
async def api_client(url: str, **options: Any) -> AsyncIterator[Api]:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar, **options) as http:
        yield Api(http, url)


def require_chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is not installed; run ./dev test, which installs Debian's chromium "
            "for the console's browser tests",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium driven by Playwright (its own browser download is not used)."""
    from playwright.async_api import async_playwright

    executable = require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def logged_in_page(browser: Any, url: str, operator: str, **context: Any) -> Any:
    """A new page on the console, logged in through the login form."""
    page = await (await browser.new_context(**context)).new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    await page.goto(url)
    await page.fill("#operator", operator)
    await page.fill("#password", password_of(operator))
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#board:not([hidden])")
    return page


def row(alarm_key: str) -> str:
    return f'tr[data-key="{alarm_key}"]'


Check = Callable[[], Any]
