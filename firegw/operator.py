"""An operator's commands from a terminal: `firegw ack|on-site|shelve|unshelve|reset|
out-of-service|in-service CONFIG TARGET --operator ID --key-file FILE`, and `firegw new-key`.

Each command is signed with the operator's own key (never the gateway's), sent through the
site's broker (with the operator's own broker login when given), and the gateway's answer is
printed: done, or refused with the reason. The gateway decides who may do what.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import stat
import sys
from pathlib import Path
from typing import Any

from drivers.mqtt import BrokerSpec
from firegw.shelf import LANGUAGES, default_language, shelf_line
from gateway.config import Site
from gateway.operators import new_key
from rules import parse_duration

KEY_VARIABLE = "FIREGW_OPERATOR_KEY_FILE"
ACTIONS = {
    "ack": ("acknowledge", "acknowledge an alarm"),
    "on-site": ("on_site", "mark that someone is on site for an alarm"),
    "shelve": ("shelve", "shelve an alarm for a while (it always expires)"),
    "unshelve": ("unshelve", "end an alarm's shelving"),
    "reset": ("reset", "reset a latched alarm (a fire) once its cause is gone"),
    "out-of-service": (
        "out_of_service",
        "take a device, a whole zone or one alarm out of service for maintenance (it always ends)",
    ),
    "in-service": ("in_service", "put a device, a zone or one alarm back in service"),
}
_ALARM = "alarm id, e.g. camera_offline:OPD-CAM-01 (see firegw alarms)"
_TARGETS = {
    "acknowledge": "alarm id, e.g. fire:OPD-SD-001 (see firegw alarms), or a group, e.g. "
    "fire@opd-1f-er",
    "out_of_service": "device id (OPD-SD-001), zone id (opd-1f-er) or alarm id",
    "in_service": "device id, zone id or alarm id",
}
_DURATIONS = {"shelve": "e.g. 15m; at most 60m", "out_of_service": "e.g. 2h; at most 8h"}


def add_operator_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the alarm commands and `new-key` on the CLI's subcommands."""
    for name, (action, help_text) in ACTIONS.items():
        command = commands.add_parser(name, help=help_text)
        command.add_argument("config", type=Path)
        command.add_argument("alarm", help=_TARGETS.get(action, _ALARM))
        _identity_options(command)
        if action in _DURATIONS:
            required = action == "shelve"
            command.add_argument("--duration", required=required, help=_DURATIONS[action])
        if action == "shelve":
            command.add_argument(
                "--lang",
                choices=LANGUAGES,
                default=default_language(),
                help="the language of the answer (default: Chinese if the locale is, else en)",
            )
        command.set_defaults(command=send, action=action, log_level="warning")
    key = commands.add_parser(
        "new-key", help="print a new operator key (for the operator's key file and the site's)"
    )
    key.set_defaults(command=print_new_key, needs_site=False)


def _identity_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--operator", required=True, help="your operator id in the site file")
    command.add_argument(
        "--key-file",
        type=Path,
        default=os.environ.get(KEY_VARIABLE),
        help=f"your operator key (default: the file named by ${KEY_VARIABLE})",
    )
    add_broker_option(command)
    command.add_argument("--mqtt-username", help="your broker login (default: the site's)")
    command.add_argument("--mqtt-password-file", type=Path, help="the password of that login")


def send(site: Site, args: argparse.Namespace) -> int:
    """Send one command and print the gateway's answer: 0 done, 1 refused or unreachable."""
    import aiomqtt  # noqa: PLC0415 (heavy: only for commands that talk to the broker)

    from firegw.alarms import broker_failure  # noqa: PLC0415

    try:
        key = read_key(args.key_file)
        broker = _broker(site, args)
        reply, alarm = asyncio.run(_sent(site, args, key, broker))
    except aiomqtt.MqttError as error:
        print(broker_failure(site, error, broker), file=sys.stderr)
        return 1
    except (LookupError, TimeoutError) as error:
        print(f"{args.config}: {error}", file=sys.stderr)
        return 1
    if not reply["ok"]:
        print(f"{args.alarm}: refused: {reply['reason']}", file=sys.stderr)
        return 1
    if args.action == "shelve":
        until = alarm.get("shelved_until") if alarm else None
        seconds = float(parse_duration(args.duration))
        print(shelf_line(args.alarm, until if isinstance(until, int) else None, seconds, args.lang))
    else:
        print(f"{args.alarm}: {args.action} done")
    return 0


async def _sent(
    site: Site, args: argparse.Namespace, key: str, broker: BrokerSpec
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The gateway's reply and, for a shelf it accepted, the alarm's state after it (the reply
    comes after the state is published, so the state holds the shelf's end; None if the
    broker went away in between: the shelf is done all the same)."""
    import aiomqtt  # noqa: PLC0415 (heavy, as in send)

    from firegw.alarms import fetch_alarm, send_command  # noqa: PLC0415

    duration = getattr(args, "duration", None)
    extra: dict[str, Any] = {"duration": duration} if duration else {}
    reply = await send_command(
        site, args.action, args.alarm, args.operator, key, broker=broker, **extra
    )
    if not (reply["ok"] and args.action == "shelve"):
        return reply, None
    try:
        return reply, await fetch_alarm(site, args.alarm, broker=broker)
    except aiomqtt.MqttError:
        return reply, None


def add_broker_option(command: argparse.ArgumentParser) -> None:
    """`--broker HOST:PORT`: the site's feed on another broker than its `mqtt:` (the demo's)."""
    command.add_argument(
        "--broker",
        metavar="HOST:PORT",
        help="the site's broker, instead of its mqtt: host and port (:PORT for this machine)",
    )


def print_new_key(site: Site | None, args: argparse.Namespace) -> int:
    print(new_key())
    return 0


def read_key(path: Path | None) -> str:
    """The operator's key from `path`; refused when it is missing or others may read it."""
    if path is None:
        raise LookupError(f"give your key file with --key-file or ${KEY_VARIABLE}")
    try:
        mode = path.stat().st_mode
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise LookupError(f"cannot read the key file {path}: {error}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise LookupError(f"the key file {path} may be read by others: chmod 600 {path}")
    return key


def _broker(site: Site, args: argparse.Namespace) -> BrokerSpec:
    """The site's broker with the operator's own login, when they gave one."""
    spec = dataclasses.replace(site.broker("firegw-cli"), client_id=None)
    if args.mqtt_username is None:
        return spec
    password = None
    if args.mqtt_password_file is not None:
        try:
            password = args.mqtt_password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise LookupError(f"cannot read {args.mqtt_password_file}: {error}") from None
    return dataclasses.replace(spec, username=args.mqtt_username, password=password)
