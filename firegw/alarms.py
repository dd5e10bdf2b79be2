"""Command-line access to a running gateway's alarm feed: watch it live, send a command.

Both talk to the broker only (never to the gateway process), so they work from any machine
that can reach the broker, exactly as a central monitor would.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import Iterable
from typing import Any, TextIO

import aiomqtt

from drivers.mqtt import BrokerSpec, describe_failure
from gateway.alarms import FeedTopics, encode
from gateway.config import Site
from gateway.operators import sign
from rules import Priority

COMMAND_TIMEOUT = 10.0
SETTLE = 0.5
"""Seconds without a retained message after which the alarms present at start are complete."""

_TABLE = "{priority:<9} {state:<24} {zone:<16} {device:<12} {id:<32} {raised:<19} {message}"


async def watch_alarms(site: Site, out: TextIO, *, settle: float = SETTLE) -> None:
    """Print the alarms present now as a table, then one line per event, until cancelled.

    Raises `aiomqtt.MqttError` when the broker cannot be reached or goes away.
    """
    topics = FeedTopics.for_site(site)
    async with _client(_broker(site)) as client:
        await client.subscribe([(topics.status, 1), (topics.alarms, 1), (topics.events, 1)])
        present, later = await _retained_alarms(client, topics, settle)
        _write(out, format_table(present.values()))
        for message in later:
            _write(out, format_message(topics, message))
        async for message in client.messages:
            _write(out, format_message(topics, message))


async def send_command(
    site: Site,
    action: str,
    alarm_id: str,
    by: str,
    key: str,
    *,
    broker: BrokerSpec | None = None,
    **args: Any,
) -> dict[str, Any]:
    """Send one command, signed as operator `by` with their `key`, to the site's gateway and
    return its reply (`ok`, `reason`, ...).

    `args` are the action's arguments (`duration="15m"` to shelve). `broker` is the
    operator's own broker login (the site's `mqtt:` login if not given). Raises
    `TimeoutError` when no reply comes within 10 s (the gateway is not running or not
    connected), and `aiomqtt.MqttError` when the broker cannot be reached.
    """
    timeout = COMMAND_TIMEOUT
    topics = FeedTopics.for_site(site)
    request_id = uuid.uuid4().hex
    command = {"action": action, "alarm": alarm_id, "by": by, "request_id": request_id, **args}
    spec = broker or _broker(site)
    async with _client(spec) as client:
        await client.subscribe(topics.replies, qos=1)
        await client.publish(topics.commands, encode(sign(command, key)), qos=1)
        try:
            async with asyncio.timeout(timeout):
                return await _reply_to(client, request_id)
        except TimeoutError:
            raise TimeoutError(
                f"no reply on {topics.replies} within {timeout:g} s: is the gateway of site "
                f"{topics.site} running and connected to {spec.where}?"
            ) from None


async def fetch_status(site: Site, *, wait: float = COMMAND_TIMEOUT) -> dict[str, Any]:
    """The gateway's latest status document, as retained on the broker.

    Raises `LookupError` when the broker holds no status for the site within `wait` seconds
    (the gateway never ran against this broker), `aiomqtt.MqttError` when the broker cannot
    be reached.
    """
    topics = FeedTopics.for_site(site)
    spec = _broker(site)
    document = await _retained(spec, topics.status, wait)
    if document is None:
        raise LookupError(
            f"no gateway status on {topics.status} at {spec.where} within "
            f"{wait:g} s: has the gateway of site {topics.site} ever run there?"
        )
    return document


async def fetch_alarm(
    site: Site, alarm_id: str, *, broker: BrokerSpec | None = None, wait: float = COMMAND_TIMEOUT
) -> dict[str, Any] | None:
    """The alarm's state as retained on the broker (the feed's `alarms/<id>` document), or
    None when the broker holds none within `wait` seconds (the alarm is gone).

    Raises `aiomqtt.MqttError` when the broker cannot be reached.
    """
    topic = FeedTopics.for_site(site).alarm(alarm_id)
    return await _retained(broker or _broker(site), topic, wait)


async def _retained(spec: BrokerSpec, topic: str, wait: float) -> dict[str, Any] | None:
    """The first JSON object on `topic` within `wait` seconds: its retained message."""
    async with _client(spec) as client:
        await client.subscribe(topic, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                async for message in client.messages:
                    document = _json(message.payload)
                    if isinstance(document, dict):
                        return document
    return None


def format_table(alarms: Iterable[dict[str, Any]]) -> str:
    """The alarms present as a fixed-width table: most urgent first, and within a priority
    those that need a person first; a last line counts what needs a person."""
    rows = sorted(alarms, key=_urgency)
    if not rows:
        return "no alarms"
    header = _TABLE.format(
        priority="PRIORITY",
        state="STATE",
        zone="ZONE",
        device="DEVICE",
        id="ALARM",
        raised="RAISED",
        message="MESSAGE",
    )
    lines = [_row(a) for a in rows]
    return "\n".join([header, *lines, _count(rows)])


def format_event(event: dict[str, Any]) -> str:
    """One event as a line: time, priority, zone, device, what happened, message, what a
    person still has to do, state."""
    alarm = event.get("alarm") or {}
    who = f" by {event['by']}" if event.get("by") else ""
    return (
        f"{_time(event.get('at'))}  {str(alarm.get('priority', '')).upper():<8}  "
        f"{alarm.get('zone', ''):<16}  {alarm.get('device') or '-':<12}  "
        f"{event.get('kind', ''):<18}  {alarm.get('message', '')}{_to_do(alarm)}  "
        f"[{_state(alarm)}]{who}"
    )


def person_needed(alarm: dict[str, Any]) -> str | None:
    """What a person still has to do about an alarm of the feed, from its `needs_person`:
    acknowledge it, reset it (a latched fire), or both; None when nothing is left to do."""
    if not alarm.get("needs_person"):
        return None
    unacknowledged = alarm.get("state") in ("unacknowledged", "returned_unacknowledged")
    if not alarm.get("latched"):
        return "acknowledge"
    reset = "reset once the condition is gone" if alarm.get("active") else "reset"
    steps = f"acknowledge, then {reset}" if unacknowledged else reset
    return steps if alarm.get("active") else f"{steps} (condition gone, latched)"


def format_status(status: dict[str, Any]) -> str:
    state = str(status.get("state", "unknown"))
    reason = f" ({status['reason']})" if status.get("reason") else ""
    return f"{_time(status.get('at'))}  gateway of site {status.get('site', '?')} {state}{reason}"


def format_message(topics: FeedTopics, message: aiomqtt.Message) -> str | None:
    """The line to print for a message of the feed, or None for one that says nothing new."""
    document = _json(message.payload)
    if not isinstance(document, dict):
        return None
    if message.topic.matches(topics.events):
        return format_event(document)
    if message.topic.matches(topics.status):
        return format_status(document)
    return None  # a retained alarm state changed: its event says so


Retained = tuple[dict[str, dict[str, Any]], list[aiomqtt.Message]]


async def _retained_alarms(client: aiomqtt.Client, topics: FeedTopics, settle: float) -> Retained:
    """The retained alarm states the broker sends on subscribing, and any other message."""
    present: dict[str, dict[str, Any]] = {}
    later: list[aiomqtt.Message] = []
    with contextlib.suppress(TimeoutError):
        while True:
            async with asyncio.timeout(settle):
                message = await anext(client.messages)
            alarm_id = topics.alarm_id_of(message.topic.value)
            document = _json(message.payload)
            if alarm_id is not None and isinstance(document, dict):
                present[alarm_id] = document
            elif alarm_id is None:
                later.append(message)
    return present, later


async def _reply_to(client: aiomqtt.Client, request_id: str) -> dict[str, Any]:
    async for message in client.messages:
        reply = _json(message.payload)
        if isinstance(reply, dict) and reply.get("request_id") == request_id:
            return reply
    raise aiomqtt.MqttError("disconnected while waiting for the reply")


def broker_failure(site: Site, error: aiomqtt.MqttError, spec: BrokerSpec | None = None) -> str:
    """One line for a command that could not reach the site's broker (`spec`, or the site's
    own): the broker and what it said, then where it is set."""
    return (
        f"{describe_failure(error, spec or _broker(site))}: is the broker running there? "
        f"It is set under mqtt: in {site.path}"
    )


def _broker(site: Site) -> BrokerSpec:
    """The site's broker and login, without a client id: the CLI gets a random one."""
    return dataclasses.replace(site.broker("firegw-cli"), client_id=None)


def _client(spec: BrokerSpec) -> aiomqtt.Client:
    """A client of its own (random id, clean session)."""
    return spec.client()


def _json(payload: object) -> Any:
    if not isinstance(payload, bytes | bytearray) or not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return None


def _row(alarm: dict[str, Any]) -> str:
    return _TABLE.format(
        priority=str(alarm.get("priority", "")).upper(),
        state=_state(alarm),
        zone=alarm.get("zone", ""),
        device=alarm.get("device") or "-",
        id=alarm.get("id", ""),
        raised=_time(alarm.get("raised_at")),
        message=f"{alarm.get('message', '')}{_to_do(alarm)}",
    )


def _urgency(alarm: dict[str, Any]) -> tuple[int, bool, int]:
    """Priority first, then what needs a person, then the oldest."""
    return (
        _rank(alarm.get("priority")),
        not alarm.get("needs_person"),
        alarm.get("raised_at") or 0,
    )


def _count(alarms: list[dict[str, Any]]) -> str:
    waiting = sum(1 for alarm in alarms if alarm.get("needs_person"))
    total = f"{len(alarms)} alarm{'s' if len(alarms) != 1 else ''}"
    if not waiting:
        return f"{total}, none needs a person"
    return f"{total}, {waiting} need{'s' if waiting == 1 else ''} a person"


def _to_do(alarm: dict[str, Any]) -> str:
    """`  NEEDS PERSON: ...` after the message, or nothing."""
    steps = person_needed(alarm)
    return f"  NEEDS PERSON: {steps}" if steps else ""


def _state(alarm: dict[str, Any]) -> str:
    flags = [name for name in ("shelved", "out_of_service") if alarm.get(name)]
    return " ".join([str(alarm.get("state", "")), *flags])


def _rank(priority: object) -> int:
    try:
        return Priority(str(priority)).rank
    except ValueError:
        return len(Priority)


def _time(ns: object) -> str:
    if not isinstance(ns, int):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns / 1e9))


def _write(out: TextIO, line: str | None) -> None:
    if line is not None:
        out.write(line + "\n")
        out.flush()
