"""Only the security office can touch an alarm: against a real Mosquitto, the alarm service
refuses what no known operator signed, what an operator's role does not allow, and a replay,
and audits every command, accepted or refused."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.alarms import FeedTopics, read_commands
from gateway.config import Site, load_site
from gateway.operators import new_key, sign
from gateway.outbox import Outbox, OutboxWriter
from tests.gateway.alarms.test_service import running_service
from tests.mqtt_watch import Watcher, publish_raw
from tests.operators import key_file, signed
from tests.servers import MosquittoServer
from tests.sites import clinic_site

FIRE = "fire:SD-1F-01"


@pytest.fixture
def site(tmp_path: Path, mosquitto: MosquittoServer) -> Site:
    return load_site(clinic_site(tmp_path, mqtt_port=mosquitto.port))


async def refusal(watcher: Watcher, request_id: str) -> str:
    reply = await watcher.reply(request_id)
    assert reply["ok"] is False, reply
    return str(reply["reason"])


async def test_a_command_no_operator_signed_is_refused_and_changes_nothing(
    site: Site, tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """Before: any client on the broker reset a latched fire or took detectors out of service."""
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        await watcher.event(FIRE, "raised")
        for request_id, action, target in (
            ("ack", "acknowledge", FIRE),
            ("oos", "out_of_service", "SD-1F-02"),
            ("oos-all", "out_of_service", "SD-2F-01"),
        ):
            document = {"action": action, "alarm": target, "by": "security.office"}
            payload = json.dumps({**document, "request_id": request_id}).encode()
            await publish_raw(mosquitto, topics.commands, payload)
            assert await refusal(watcher, request_id) == (
                "a command needs a nonce of 16 to 64 letters, digits, - or _"
            )
        await running.status("SD-1F-02", "fire")  # not silenced: it was never out of service
        await watcher.event("fire:SD-1F-02", "raised")
        alarm = running.service.engine.alarms[FIRE]
    assert (str(alarm.state), alarm.acknowledged_by) == ("unacknowledged", None)


@pytest.mark.parametrize(
    ("document", "key_of", "reason"),
    [
        (
            {"action": "acknowledge", "alarm": FIRE, "by": "mallory"},
            "al",
            "'mallory' is not an operator of this site",
        ),
        (
            {"action": "acknowledge", "alarm": FIRE, "by": "security.office"},
            "bo",
            "the command's signature does not match the operator's key",
        ),
        ({"action": "reset", "alarm": FIRE, "by": "bo"}, None, "bo (guard) may not reset"),
        (
            {"action": "out_of_service", "alarm": "SD-1F-01", "by": "bo"},
            None,
            "bo (guard) may not take out of service",
        ),
    ],
    ids=["unknown operator", "another operator's key", "guard resets", "guard disables"],
)
async def test_the_gateway_decides_who_may_do_what(
    site: Site,
    tmp_path: Path,
    mosquitto: MosquittoServer,
    document: dict[str, Any],
    key_of: str | None,
    reason: str,
) -> None:
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        await watcher.event(FIRE, "raised")
        payload = signed(site.path, {**document, "request_id": "r"}, key_of=key_of)
        await publish_raw(mosquitto, topics.commands, payload)
        assert await refusal(watcher, "r") == reason
        assert not running.service.engine.alarms[FIRE].out_of_service


async def test_a_guard_acknowledges_a_fire_and_a_recorded_command_cannot_be_replayed(
    site: Site, tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        await watcher.event(FIRE, "raised")
        payload = signed(
            site.path, {"action": "acknowledge", "alarm": FIRE, "by": "bo", "request_id": "a"}
        )
        await publish_raw(mosquitto, topics.commands, payload)
        assert (await watcher.reply("a"))["ok"] is True
        await running.status("SD-1F-01", "normal")
        await watcher.event(FIRE, "returned_to_normal")
        await publish_raw(mosquitto, topics.commands, payload)  # recorded off the network
        replies = await watcher.wait_for(
            lambda m: m.topic == topics.replies and m.json["ok"] is False
        )
    assert replies.json["reason"] == "the command was sent before (its nonce is not new)"
    assert running.service.engine.alarms[FIRE].acknowledged_by == "bo"


async def test_shelving_again_right_after_a_shelf_ran_out_needs_a_role_that_may(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """Before: a shelf could be renewed the moment it expired, so the 60-minute cap was none."""
    site_file = clinic_site(tmp_path, mqtt_port=mosquitto.port)
    technician = tmp_path / "operators" / "tech.li.key"
    technician.write_text(new_key())
    technician.chmod(0o600)
    text = site_file.read_text().replace(
        "operators:\n",
        "roles:\n"
        "  guard: {may: [acknowledge, on_site], fire: true}\n"
        "  supervisor: {may: [acknowledge, on_site, shelve, unshelve, reset, out_of_service,"
        " in_service], fire: true, reshelve: true}\n"
        "  technician: {may: [acknowledge, shelve]}\n"
        "operators:\n"
        f"  - {{id: tech.li, name: Li, role: technician, key: {{file: {technician}}}}}\n",
    )
    site_file.write_text(text)
    site = load_site(site_file)
    topics, alarm = FeedTopics.for_site(site), "detector_fault:SD-2F-01"
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-2F-01", "fault")
        await watcher.event(alarm, "raised")  # after its 10 s on-delay
        shelve = {"action": "shelve", "alarm": alarm, "by": "tech.li", "duration": "1s"}
        await running.command(**shelve, request_id="first")
        assert (await watcher.reply("first"))["ok"] is True
        await watcher.event(alarm, "unshelved")
        await running.command(**shelve, request_id="again")
        assert await refusal(watcher, "again") == (
            "the alarm's last shelf ran out only recently; shelving it again needs a role that "
            "may re-shelve, and tech.li (technician) may not"
        )
        await running.command(**{**shelve, "by": "al"}, request_id="supervisor")
        assert (await watcher.reply("supervisor"))["ok"] is True


async def test_every_command_is_audited_in_the_log_and_the_history(
    site: Site, tmp_path: Path, mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.alarms.service")
    topics = FeedTopics.for_site(site)
    async with (
        Outbox(tmp_path / "outbox.sqlite") as outbox,
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
    ):
        writer = OutboxWriter(outbox)
        writing = asyncio.create_task(writer.run())
        async with running_service(site, site.alarm_store_path, mosquitto, writer) as running:
            await running.status("SD-1F-01", "fire")
            await watcher.event(FIRE, "raised")
            await running.command(action="acknowledge", alarm=FIRE, by="bo", request_id="ok")
            forged = {"action": "reset", "alarm": FIRE, "by": "al\n\x1b[31mFAKE", "request_id": "x"}
            await publish_raw(mosquitto, topics.commands, json.dumps(forged).encode())
            await watcher.reply("ok")
            await watcher.reply("x")
        await writer.flush()
        writing.cancel()
        lines = [line for _, line in await outbox.reader("influxdb").peek(100)]
    logged = [r for r in caplog.records if r.getMessage().startswith("command ")]
    assert [(r.levelname, r.getMessage()) for r in logged] == [
        ("INFO", f"command acknowledge on {FIRE} by bo (guard): accepted"),
        (
            "WARNING",
            f"command reset on {FIRE} by al\\n\\x1b[31mFAKE: refused: "
            "'al\\n\\x1b[31mFAKE' is not an operator of this site",
        ),
    ]
    audit = [line for line in lines if line.startswith("command,")]
    assert len(audit) == 2
    assert audit[0].startswith("command,site=demo,result=accepted,action=acknowledge ")
    assert 'by="bo",role="guard"' in audit[0]
    assert audit[1].startswith("command,site=demo,result=refused,action=reset ")
    kept = read_commands(site.alarm_store_path)
    assert [(e.action, e.by, e.role, e.ok, e.request_id) for e in kept] == [
        ("acknowledge", "bo", "guard", True, "ok"),
        ("reset", "al\n\x1b[31mFAKE", None, False, "x"),
    ]
    shown = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "firegw", "audit", str(site.path), "--refused"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    header, row = shown.stdout.splitlines()
    assert header.split() == ["time", "operator", "action", "target", "result"]
    assert row.split()[2:] == [
        "al\\n\\x1b[31mFAKE",
        "reset",
        FIRE,
        "refused:",
        "'al\\n\\x1b[31mFAKE'",
        "is",
        "not",
        "an",
        "operator",
        "of",
        "this",
        "site",
    ]


async def test_the_cli_signs_with_the_operators_own_key(
    site: Site, tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    topics = FeedTopics.for_site(site)
    key = key_file(site.path, "night.nurse")
    firegw = [sys.executable, "-m", "firegw", "ack", str(site.path), FIRE]
    env = {k: v for k, v in os.environ.items() if k != "FIREGW_OPERATOR_KEY_FILE"}
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await running.status("SD-1F-01", "fire")
        await watcher.event(FIRE, "raised")
        key.chmod(0o644)
        loose = await asyncio.to_thread(
            subprocess.run,
            [*firegw, "--operator", "night.nurse", "--key-file", str(key)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        key.chmod(0o600)
        done = await asyncio.to_thread(
            subprocess.run,
            [*firegw, "--operator", "night.nurse", "--key-file", str(key)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        await watcher.event(FIRE, "acknowledged")
    assert (loose.returncode, loose.stderr.strip()) == (
        1,
        f"{site.path}: the key file {key} may be read by others: chmod 600 {key}",
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"{FIRE}: acknowledge done")
    assert running.service.engine.alarms[FIRE].acknowledged_by == "night.nurse"


async def test_a_site_without_operators_refuses_every_command(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    site_file = clinic_site(tmp_path, mqtt_port=mosquitto.port)
    text = site_file.read_text()
    site_file.write_text(text[: text.index("operators:")])
    site = load_site(site_file)
    topics = FeedTopics.for_site(site)
    document = sign(
        {"action": "acknowledge", "alarm": FIRE, "by": "al", "request_id": "r"}, "k" * 43
    )
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto),
    ):
        await watcher.status("online")
        await publish_raw(mosquitto, topics.commands, json.dumps(document).encode())
        assert (
            await refusal(watcher, "r") == "this site has no operators, so every command is refused"
        )


async def test_a_detector_out_of_service_is_visible_and_its_fire_still_reaches_the_feed(
    site: Site, tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """Before: out of service never ended, showed nothing, and a fire then raised no alarm."""
    topics = FeedTopics.for_site(site)
    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await watcher.status("online")
        await running.command(
            action="out_of_service", alarm="SD-1F-01", by="al", duration="2h", request_id="oos"
        )
        assert (await watcher.reply("oos"))["ok"] is True
        disablement = await watcher.event("out_of_service:SD-1F-01", "raised")
        await running.status("SD-1F-01", "fire")
        fire = await watcher.event(FIRE, "raised")
    assert disablement["alarm"]["message"] == (
        "Smoke detector SD-1F-01 out of service for 2 h (by al): its alarms are held back; "
        "a fire still reaches the feed"
    )
    assert (fire["alarm"]["out_of_service"], fire["alarm"]["needs_person"]) == (True, True)
    assert fire["alarm"]["out_of_service_until"] is not None


async def test_a_supervisor_takes_a_whole_zone_out_of_service_from_the_cli(
    site: Site, tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """A ward under renovation: one command, one disablement on the feed, fires still raised;
    a guard may not do it, and back in service ends it."""
    topics = FeedTopics.for_site(site)
    env = {k: v for k, v in os.environ.items() if k != "FIREGW_OPERATOR_KEY_FILE"}

    def firegw(command: str, operator: str, *more: str) -> subprocess.CompletedProcess[str]:
        key = key_file(site.path, operator)
        login = ["--operator", operator, "--key-file", str(key)]
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "firegw",
                command,
                str(site.path),
                "main-2f-ward",
                *login,
                *more,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    async with (
        Watcher(mosquitto.host, mosquitto.port, topics) as watcher,
        running_service(site, tmp_path / "alarms.sqlite", mosquitto) as running,
    ):
        await watcher.status("online")
        guard = await asyncio.to_thread(firegw, "out-of-service", "bo", "--duration", "4h")
        taken = await asyncio.to_thread(firegw, "out-of-service", "al", "--duration", "4h")
        disablement = await watcher.event("out_of_service:main-2f-ward", "raised")
        await running.status("SD-2F-01", "fire")
        fire = await watcher.event("fire:SD-2F-01", "raised")
        back = await asyncio.to_thread(firegw, "in-service", "al")
        await watcher.event("out_of_service:main-2f-ward", "cleared")
    assert guard.returncode == 1
    assert guard.stderr.strip() == "main-2f-ward: refused: bo (guard) may not take out of service"
    assert (taken.returncode, taken.stdout.strip()) == (0, "main-2f-ward: out_of_service done")
    assert disablement["alarm"]["message"].startswith(
        "Zone main-2f-ward out of service for 4 h (by al)"
    )
    assert (disablement["alarm"]["zone"], disablement["alarm"]["device"]) == ("main-2f-ward", None)
    assert fire["alarm"]["out_of_service"] is True
    assert (back.returncode, back.stdout.strip()) == (0, "main-2f-ward: in_service done")
    assert not any(alarm.out_of_service for alarm in running.service.engine.alarms.values())
