"""`firegw broker-acl CONFIG`: the broker's access list for a site, from the site file.

The broker is the first wall (the gateway's own check of every command is the second): with
this ACL, only the gateway's account may publish the site's alarms, events, status and
replies, so no other client can fake a retained fire alarm or erase one; only operators'
accounts (and the guard console's, which sends the commands of the operators logged in to
it) may publish commands; the devices' account may publish only the devices' topics; and
read-only accounts (a central monitor) may only read the feed. Anything not listed
is refused. config/mosquitto/ has a broker configuration that uses it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from drivers.mqtt import PLACEHOLDER
from gateway.alarms import FeedTopics
from gateway.config import MqttSource, Site

__all__ = ["access_list", "add_broker_acl_command"]


def add_broker_acl_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `firegw broker-acl` on the CLI's subcommands."""
    acl = commands.add_parser(
        "broker-acl", help="print the Mosquitto access list (acl_file) for a site's broker"
    )
    acl.add_argument("config", type=Path)
    acl.add_argument(
        "--gateway-user",
        help="the gateway's broker account (default: the site's mqtt.username)",
    )
    acl.add_argument(
        "--device-user",
        action="append",
        default=[],
        help="an account that publishes the devices' status (an NVR, cameras); repeatable",
    )
    acl.add_argument(
        "--console",
        action="append",
        default=[],
        help="the guard console's account: reads the feed and sends operators' signed "
        "commands; repeatable",
    )
    acl.add_argument(
        "--reader",
        action="append",
        default=[],
        help="a read-only account for the feed (a console, a central monitor); repeatable",
    )
    acl.set_defaults(command=print_acl, log_level="warning")


def print_acl(site: Site, args: argparse.Namespace) -> int:
    gateway = args.gateway_user or (site.config.mqtt.username if site.config.mqtt else None)
    if not gateway:
        print(
            f"{args.config}: the site's mqtt: section names no username; give --gateway-user",
            file=sys.stderr,
        )
        return 2
    sys.stdout.write(
        access_list(site, gateway, args.device_user, args.reader, consoles=args.console)
    )
    return 0


def access_list(
    site: Site,
    gateway: str,
    device_users: Sequence[str] = (),
    readers: Sequence[str] = (),
    *,
    consoles: Sequence[str] = (),
) -> str:
    """The ACL text: one block per account, a comment saying what each block is for."""
    topics = FeedTopics.for_site(site)
    feed = f"{topics.root}/#"
    devices = sorted(_device_topics(site))
    blocks = [
        _header(site),
        _block(
            "the gateway: the only publisher of the feed; reads its commands and the devices",
            [gateway],
            [
                ("write", topics.alarms.replace("/+", "/#")),
                ("write", topics.groups.replace("/+", "/#")),
                ("write", topics.events),
                ("write", topics.status),
                ("write", topics.replies),
                ("read", feed),
                *(("read", topic) for topic in devices),
            ],
        ),
        _block(
            "operators: send commands (each signed with the operator's key), read the feed",
            [operator.id for operator in site.config.operators],
            [("write", topics.commands), ("read", feed)],
        ),
        _block(
            "the guard console: sends the signed commands of the operators logged in to it, "
            "reads the feed",
            consoles,
            [("write", topics.commands), ("read", feed)],
        ),
        _block(
            "devices: publish their own status, nothing else",
            device_users,
            [("write", topic) for topic in devices],
        ),
        _block("readers: the feed, read only", readers, [("read", feed)]),
    ]
    return "\n".join(block for block in blocks if block)


def _header(site: Site) -> str:
    return (
        f"# Mosquitto access list for firegw site {site.config.site.id}, made by\n"
        f"# `firegw broker-acl {site.path.name}`. Anything not listed is refused.\n"
    )


def _block(purpose: str, users: Iterable[str], rules: list[tuple[str, str]]) -> str:
    lines = [f"# {purpose}"]
    for user in users:
        lines.append(f"user {user}")
        lines.extend(f"topic {access} {topic}" for access, topic in rules)
        lines.append("")
    return "\n".join(lines) if len(lines) > 1 else ""


def _device_topics(site: Site) -> set[str]:
    """The topics (or filters, for templates) the site's MQTT devices publish on."""
    found = set()
    for device in site.config.devices:
        if isinstance(device.source, MqttSource):
            topic = site.mqtt_topic(device)
            found.add(topic.pattern.replace(PLACEHOLDER, "+") if topic.is_template else topic.topic)
    return found
