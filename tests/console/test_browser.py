"""The guard console in a real browser: headless Chromium (Debian's package) driven by
Playwright, against real Mosquitto brokers, the simulators and the gateway.

Every wait has a generous deadline (30 s) and waits for what the page shows, never for a
fixed time: the machine may be loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gateway.alarms import FeedTopics
from gateway.config import Site
from gateway.runtime import Gateway
from simulators import SimulatedSite
from tests.conftest import MosquittoFactory
from tests.console.conftest import (
    WAIT_MS,
    api_client,
    console_site,
    logged_in_page,
    row,
    running_console,
)
from tests.gateway.alarms.test_service import running_service
from tests.mqtt_watch import Watcher
from tests.servers import MosquittoServer, free_port

FIRE = "demo/fire:SD-1F-01"


@contextlib.asynccontextmanager
async def running_gateway(site: Site) -> AsyncIterator[SimulatedSite]:
    """The simulated clinic and its gateway, in this process."""
    async with SimulatedSite(site, seed=3) as simulators:
        gateway = Gateway(site, store_only=True)
        task = asyncio.create_task(gateway.run())
        try:
            yield simulators
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_fire_from_the_simulators_appears_and_a_guard_acknowledges_it(
    tmp_path: Path, mosquitto: MosquittoServer, browser: Any
) -> None:
    site = console_site(tmp_path / "site", mosquitto)
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_gateway(site) as simulators,
        running_console([site], default_language="en") as console,
    ):
        page = await logged_in_page(browser, console.url, "bo")
        await watcher.status("online")
        await simulators.apply("fire", "SD-1F-01")

        fire = page.locator(row(FIRE))
        await fire.wait_for()
        assert "Smoke detector SD-1F-01 in fire" in await fire.inner_text()
        assert "Emergency room, 1F" in await fire.inner_text()  # the zone's name, not its id
        red = "rgb(200, 16, 46)"  # fire is red, whatever the mouse hovers
        assert await fire.locator("td.what").evaluate("td => getComputedStyle(td).color") == red
        badge = fire.locator(".badge")
        assert await badge.evaluate("b => getComputedStyle(b).backgroundColor") == red
        banner = page.locator("#alert")
        await banner.wait_for(state="visible")
        assert "FIRE" in await banner.inner_text()
        # Browsers play sound only after a gesture: the guard clicks, and the tone repeats.
        assert await page.inner_text("#sound") == "Click to enable sound"
        await page.click("#sound")
        await page.wait_for_function("() => S.sound.on && S.sound.timer !== null")

        # A guard is offered acknowledge and on site, never reset or out of service.
        await fire.locator("td.what").click()
        detail = page.locator("#detail-actions")
        await detail.locator("button[data-action=acknowledge]").wait_for()
        offered = await detail.locator("button").evaluate_all(
            "buttons => buttons.map(b => b.dataset.action)"
        )
        assert offered == ["acknowledge", "on_site"]

        await detail.locator("button[data-action=acknowledge]").click()
        event = await watcher.event("fire:SD-1F-01", "acknowledged")
        assert event["by"] == "bo"
        assert event["alarm"]["acknowledged_by"] == "bo"
        await page.wait_for_function(
            f"() => document.querySelector('{row(FIRE)} td.by')?.textContent.includes('bo')",
            timeout=WAIT_MS,
        )
        await banner.wait_for(state="hidden")  # nothing left unacknowledged
        await page.wait_for_function("() => S.sound.timer === null")  # and the tone stops
        assert "done (confirmed by the gateway)" in await page.inner_text("#detail-reply")
        await page.locator("#detail-history li.k-acknowledged").wait_for()

        # The API refuses a guard's reset even when asked directly.
        async with api_client(console.url) as api:
            await api.login("bo")
            status, body = await api.post(
                "/api/commands", {"site": "demo", "action": "reset", "alarm": "fire:SD-1F-01"}
            )
        assert (status, body["error"]) == (403, "bo (guard) may not reset")
        assert page.errors == []


async def test_a_dark_cameras_consequences_are_shown_as_held_by_it(
    tmp_path: Path, mosquitto: MosquittoServer, browser: Any
) -> None:
    """A camera offline is the alarm to act on; its not recording is on the board, greyed
    and marked as that alarm's consequence, in the guard's language."""
    site = console_site(tmp_path / "site", mosquitto)
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_gateway(site) as simulators,
        running_console([site], default_language="zh-CN") as console,
    ):
        page = await logged_in_page(browser, console.url, "bo")
        await watcher.status("online")
        await simulators.apply("camera_offline", "CAM-2F-01")
        await watcher.event("camera_offline:CAM-2F-01", "raised")
        held = page.locator(row("demo/camera_not_recording:CAM-2F-01"))
        await held.wait_for(timeout=WAIT_MS)
        await page.wait_for_function(
            "() => document.querySelector("
            "'tr[data-alarm=\"camera_not_recording:CAM-2F-01\"]')?.classList.contains('held')",
            timeout=WAIT_MS,
        )
        flag = await held.locator(".flag.held").inner_text()
        cause = page.locator(row("demo/camera_offline:CAM-2F-01")).locator("td.what")
        cause_text = await cause.inner_text()
        opacity = await held.locator("td.what").evaluate("td => getComputedStyle(td).opacity")
        assert page.errors == []
    assert flag == f"次生：起因是 {cause_text}"  # noqa: RUF001 (Chinese punctuation)
    assert float(opacity) < 1


async def test_switching_to_chinese_changes_the_whole_page(
    tmp_path: Path, mosquitto: MosquittoServer, browser: Any
) -> None:
    site = console_site(tmp_path / "site", mosquitto)
    async with (
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
        running_console([site], default_language="en") as console,
    ):
        await running.status("SD-1F-01", "fire")
        page = await logged_in_page(browser, console.url, "al")
        fire = page.locator(row(FIRE))
        await fire.wait_for()
        assert await page.inner_text("#alarm-table thead") != ""
        assert "Smoke detector" in await fire.inner_text()

        await page.select_option("#lang", "zh-CN")
        await page.wait_for_function(
            "() => document.querySelector('h1 [data-t=title]').textContent === '安保值班台'",
            timeout=WAIT_MS,
        )
        await page.wait_for_function(
            f"() => document.querySelector('{row(FIRE)} td.what')?.textContent"
            " === '急诊室 1F 感烟探测器 SD-1F-01 火警'",
            timeout=WAIT_MS,
        )
        text = await fire.inner_text()
        assert "火警" in text
        assert "未确认" in text
        assert "急诊室 1F" in text
        assert "Smoke" not in text
        assert "类别" in await page.inner_text("#alarm-table thead")
        assert await page.evaluate("document.documentElement.lang") == "zh-CN"
        # A supervisor is offered everything a latched fire allows.
        await fire.locator("td.what").click()
        await page.locator("#detail-actions button[data-action=acknowledge]").wait_for()
        offered = await page.locator("#detail-actions button").evaluate_all(
            "buttons => buttons.map(b => b.textContent)"
        )
        assert offered == ["确认", "已到场", "停用设备"]
        # The choice is the user's: it survives a reload.
        await page.reload()
        await fire.wait_for()
        assert "火警" in await fire.inner_text()
        assert page.errors == []


async def test_the_page_recovers_from_a_broker_restart(
    tmp_path: Path, mosquitto_factory: MosquittoFactory, browser: Any
) -> None:
    broker = mosquitto_factory()
    site = console_site(tmp_path / "site", broker)
    async with (
        running_service(site, tmp_path / "alarms.sqlite", broker) as running,
        running_console([site], default_language="en") as console,
    ):
        await running.status("SD-1F-01", "fire")
        page = await logged_in_page(browser, console.url, "bo")
        await page.locator(row(FIRE)).wait_for()
        assert await page.locator("#connection").is_hidden()

        broker.stop()
        banner = page.locator("#connection")
        await banner.wait_for(state="visible")
        assert "reconnecting" in (await banner.inner_text()).lower()
        await page.locator(
            f"#links .link.down[data-broker='{broker.host}:{broker.port}']"
        ).wait_for()
        # The board keeps what it knew, and the gateway goes on while the broker is away.
        assert await page.locator(row(FIRE)).is_visible()
        await running.status("SD-2F-01", "fire")

        broker.start()  # without persistence: the gateway publishes every alarm again
        await page.locator(row("demo/fire:SD-2F-01")).wait_for()
        await banner.wait_for(state="hidden")
        await page.locator(row(FIRE)).wait_for()
        assert page.errors == []


async def test_the_page_recovers_from_a_console_restart(
    tmp_path: Path, mosquitto: MosquittoServer, browser: Any
) -> None:
    site = console_site(tmp_path / "site", mosquitto)
    port, state = free_port(), tmp_path / "state"
    async with running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running:
        await running.status("SD-1F-01", "fire")
        async with running_console([site], port=port, state=state, default_language="en") as c:
            page = await logged_in_page(browser, c.url, "bo")
            await page.locator(row(FIRE)).wait_for()
            await page.locator("#console-link.up").wait_for()
        # The console is gone: the page says so, and keeps what it knew.
        await page.locator("#console-link.down").wait_for()
        assert await page.locator(row(FIRE)).is_visible()
        await running.status("SD-2F-01", "fire")
        async with running_console([site], port=port, state=state, default_language="en"):
            # Back by itself, still logged in (the session is in the state folder).
            await page.locator(row("demo/fire:SD-2F-01")).wait_for()
            await page.locator("#console-link.up").wait_for()
            assert await page.locator("#login").is_hidden()
        assert page.errors == []


async def test_the_wall_screen_has_large_type_and_no_controls(
    tmp_path: Path, mosquitto: MosquittoServer, browser: Any
) -> None:
    site = console_site(tmp_path / "site", mosquitto)
    async with (
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
        running_console([site], default_language="en") as console,
    ):
        await running.status("SD-1F-01", "fire")
        page = await logged_in_page(browser, f"{console.url}?view=wall", "al")
        await page.locator(row(FIRE)).wait_for()
        assert await page.locator(f"{row(FIRE)} button").count() == 0
        assert await page.locator("#tabs").is_hidden()
        assert await page.locator(".zone[data-zone=main-1f-er].s-5").is_visible()  # red tile
        size = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 20
