"""The console's HTTP API against a real Mosquitto and a real alarm service: login, sessions,
CSRF, the rate limit, commands signed for the logged-in operator and answered by the
gateway, group acknowledgement, the journal, the OpenAPI document and HTTPS."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from firegw.console.openapi import openapi_document
from gateway.alarms import FeedTopics
from gateway.config import Site
from tests.console.conftest import api_client, console_site, running_console
from tests.gateway.alarms.test_service import running_service
from tests.mqtt_watch import Watcher
from tests.servers import MosquittoServer, free_port
from tests.sites import eventually
from tests.tls import make_pki

FIRE = "fire:SD-1F-01"


@pytest.fixture
def site(tmp_path: Path, mosquitto: MosquittoServer) -> Site:
    return console_site(tmp_path / "site", mosquitto)


async def test_login_sets_a_strict_http_only_cookie_and_refuses_wrong_passwords(
    site: Site,
) -> None:
    async with running_console([site]) as console, api_client(console.url) as api:
        assert (await api.get("/api/alarms"))[0] == 401
        wrong = await api.login("bo", "not-the-password")
        assert wrong.status == 401
        assert (await wrong.json())["error"] == "wrong operator or password"
        unknown = await api.login("mallory", "whatever-it-is")
        assert unknown.status == 401
        good = await api.login("bo")
        assert good.status == 200
        cookie = good.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
        assert api.session["sites"]["demo"] == {
            "role": "guard",
            "actions": ["acknowledge", "on_site"],
            "fire": True,
            "reshelve": False,
        }
        status, alarms = await api.get("/api/alarms")
        assert status == 200
        assert alarms == {"alarms": []}


async def test_failed_logins_are_limited_per_address(site: Site) -> None:
    async with running_console([site]) as console, api_client(console.url) as api:
        for _ in range(5):
            assert (await api.login("bo", "guess-guess")).status == 401
        blocked = await api.login("bo")  # even the right password waits
        assert blocked.status == 429
        assert (await blocked.json())["retry_after"] > 0


async def test_every_action_needs_the_sessions_csrf_token_and_the_same_origin(
    site: Site,
) -> None:
    async with running_console([site]) as console, api_client(console.url) as api:
        await api.login("al")
        command = {"site": "demo", "action": "acknowledge", "alarm": FIRE}
        status, body = await api.post("/api/commands", command, **{"X-CSRF-Token": "forged"})
        assert (status, body["error"]) == (403, "missing or wrong CSRF token (X-CSRF-Token)")
        status, body = await api.post("/api/commands", command, Origin="http://evil.example")
        assert (status, body["error"]) == (403, "cross-origin requests are refused")
        status, body = await api.post(
            "/api/session/language", {"lang": "en"}, **{"X-CSRF-Token": ""}
        )
        assert status == 403


async def test_commands_are_signed_for_the_operator_and_the_gateway_answers(
    site: Site, tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
        running_console([site]) as console,
        api_client(console.url) as guard,
        api_client(console.url) as supervisor,
    ):
        await running.status("SD-1F-01", "fire")
        await watcher.event(FIRE, "raised")
        await guard.login("bo")
        await supervisor.login("al")
        await eventually(lambda: f"demo/{FIRE}" in console.board.alarms, what="the fire")

        # The console does not offer a guard a reset, and its API refuses one.
        status, body = await guard.post(
            "/api/commands", {"site": "demo", "action": "reset", "alarm": FIRE}
        )
        assert (status, body["error"]) == (403, "bo (guard) may not reset")

        status, body = await guard.post(
            "/api/commands", {"site": "demo", "action": "acknowledge", "alarm": FIRE}
        )
        assert status == 200, body
        assert body["ok"] is True
        event = await watcher.event(FIRE, "acknowledged")
        assert event["by"] == "bo"
        assert event["alarm"]["acknowledged_by"] == "bo"

        # The gateway's refusal comes back with its reason.
        status, body = await supervisor.post(
            "/api/commands", {"site": "demo", "action": "acknowledge", "alarm": FIRE}
        )
        assert status == 409
        assert body["reason"] == f"alarm {FIRE} is already acknowledged (by bo)"
        await eventually(
            lambda: console.board.alarms[f"demo/{FIRE}"]["acknowledged_by"] == "bo",
            what="the acknowledgement on the board",
        )

        # The history of the alarm, and the journal found by the zone's Chinese name.
        status, history = await guard.get(f"/api/alarms/demo/{FIRE}/events?lang=en")
        assert [e["kind"] for e in history["events"]] == ["raised", "acknowledged"]
        assert history["events"][1]["by"] == "bo"
        status, found = await guard.get("/api/events?q=急诊室")
        assert {e["alarm_id"] for e in found["events"]} == {FIRE}
        status, found = await guard.get("/api/events?q=nothing-like-this")
        assert found["events"] == []


async def test_a_group_of_alarms_is_acknowledged_in_one_action(
    site: Site, tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
        running_console([site]) as console,
        api_client(console.url) as guard,
    ):
        await running.status("SD-1F-01", "fire")
        await running.status("SD-1F-02", "fire")
        await running.status("SD-2F-01", "fault")  # another zone: not in the group
        await watcher.event("confirmed_fire:main-1f-er", "raised")
        await guard.login("guard.7")
        wanted = {"demo/fire:SD-1F-01", "demo/fire:SD-1F-02", "demo/confirmed_fire:main-1f-er"}
        await eventually(lambda: wanted <= set(console.board.alarms), what="the zone's fires")
        status, body = await guard.post(
            "/api/commands/group", {"site": "demo", "zone": "main-1f-er"}
        )
        assert status == 200, body
        assert (body["done"], body["refused"]) == (3, 0)
        for alarm in ("fire:SD-1F-01", "fire:SD-1F-02", "confirmed_fire:main-1f-er"):
            assert (await watcher.event(alarm, "acknowledged"))["by"] == "guard.7"


async def test_alarms_come_with_their_words_in_the_sessions_language(
    site: Site, tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    async with (
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
        running_console([site]) as console,
        api_client(console.url) as api,
    ):
        await running.status("SD-1F-01", "fire")
        await api.login("bo")
        await eventually(lambda: f"demo/{FIRE}" in console.board.alarms, what="the fire")
        await api.post("/api/session/language", {"lang": "zh-CN"})
        _, alarms = await api.get("/api/alarms")
        (fire,) = alarms["alarms"]
        assert fire["text"] == "急诊室 1F 感烟探测器 SD-1F-01 火警"
        assert (fire["labels"]["class"], fire["labels"]["state"]) == ("火警", "未确认")
        assert fire["zone_name"] == "急诊室 1F"
        _, alarms = await api.get("/api/alarms?lang=en")
        assert alarms["alarms"][0]["text"] == "Smoke detector SD-1F-01 in fire (Emergency room, 1F)"
        _, raw = await api.get("/api/alarms?raw=1")
        assert raw["alarms"][0]["message"] == "Smoke detector SD-1F-01 in fire (zone main-1f-er)"
        assert "text" not in raw["alarms"][0]  # the feed's document as it is


def test_the_openapi_document_names_every_route_and_nothing_else(site: Site) -> None:
    from firegw.console import Console

    app = Console([site]).app()
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and not route.resource.canonical.startswith("/static")
        and route.method != "HEAD"
    }
    documented = {
        (method, path) for path, item in openapi_document()["paths"].items() for method in item
    }
    assert routes == documented


async def test_https_with_a_given_certificate_and_secure_cookies(
    site: Site, tmp_path: Path
) -> None:
    from firegw.console.server import tls_context

    pki = make_pki(tmp_path / "pki")
    tls = tls_context(pki.server_cert, pki.server_key)
    trust = ssl.create_default_context(cafile=str(pki.ca))
    async with running_console([site], tls=tls) as console:
        assert console.url.startswith("https://127.0.0.1:")
        async with api_client(console.url, connector=aiohttp.TCPConnector(ssl=trust)) as api:
            response = await api.login("bo")
            assert response.status == 200
            assert "Secure" in response.headers["Set-Cookie"]
            async with api.http.get(console.url) as page:
                assert page.headers["Strict-Transport-Security"].startswith("max-age=")
                assert "default-src 'self'" in page.headers["Content-Security-Policy"]


async def test_the_gateway_can_serve_the_console_from_its_own_process(
    site: Site, mosquitto: MosquittoServer
) -> None:
    """`firegw run SITE --console HOST:PORT`: the same console, reading the feed from the
    broker; the page and the gateway's status are there."""
    import asyncio
    import signal
    import sys

    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "firegw",
        "run",
        str(site.path),
        "--console",
        f"127.0.0.1:{port}",
        "--console-state",
        str(site.path.parent / "console"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with api_client(f"http://127.0.0.1:{port}") as api:

            async def online() -> bool:
                try:
                    if not api.csrf and (await api.login("al")).status != 200:
                        return False
                    status, body = await api.get("/api/status")
                except aiohttp.ClientError:
                    return False
                return status == 200 and body["statuses"][0]["state"] == "online"

            await eventually(online, what="the console of the gateway's process, online")
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
