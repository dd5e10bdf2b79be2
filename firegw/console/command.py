"""`firegw console SITE [SITE ...]` and `firegw password-hash`."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.mqtt import BrokerSpec
from firegw.console.auth import hash_password
from firegw.console.i18n import DEFAULT_LANGUAGE, LANGUAGES
from gateway.config import ConfigError, Site, load_site

if TYPE_CHECKING:
    from firegw.console.server import Console

Runner = Callable[[Coroutine[Any, Any, None]], int]
EXIT_CONFIG = 2


def add_console_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], run: Runner
) -> None:
    """Register `console` and `password-hash`; `run` runs a coroutine until a signal."""
    console = commands.add_parser(
        "console",
        help="the guard console: a live web alarm board for one building or a whole campus",
    )
    console.add_argument(
        "configs", nargs="+", type=Path, metavar="CONFIG", help="one site file per building"
    )
    add_console_options(console)
    console.add_argument(
        "--broker",
        metavar="HOST:PORT",
        help="read every site's feed from this broker (a campus's central broker) instead of "
        "each site's own",
    )
    console.add_argument("--mqtt-username", help="the console's broker login")
    console.add_argument("--mqtt-password-file", type=Path, help="the password of that login")
    console.add_argument("--ca-file", type=Path, help="TLS to --broker, checked with this CA")
    console.add_argument(
        "--client-id", help="the console's MQTT client id (default: firegw-console-HOSTNAME)"
    )
    console.set_defaults(command=lambda site, args: _console(args, run), needs_site=False)

    password = commands.add_parser(
        "password-hash",
        help="read a password and print its scrypt hash, for an operator's console login",
    )
    password.set_defaults(command=_password_hash, needs_site=False)


def add_console_options(parser: argparse.ArgumentParser) -> None:
    """Where the console listens and keeps its state (also for `firegw run --console`)."""
    parser.add_argument(
        "--listen",
        default="127.0.0.1:8080",
        metavar="HOST:PORT",
        help="address of the console (default 127.0.0.1:8080; 0.0.0.0:443 for the LAN)",
    )
    parser.add_argument("--certificate", type=Path, help="HTTPS: the certificate (chain) file")
    parser.add_argument("--key", type=Path, help="HTTPS: the certificate's private key")
    parser.add_argument(
        "--state",
        type=Path,
        default=Path(os.environ.get("STATE_DIRECTORY") or "var/console"),
        help="folder of the journal and the sessions (default $STATE_DIRECTORY or var/console)",
    )
    parser.add_argument("--language", choices=LANGUAGES, default=DEFAULT_LANGUAGE)
    parser.add_argument("--journal-days", type=float, default=7.0, help="days the journal keeps")


def listen_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"--listen wants HOST:PORT, got {text!r}")
    return host or "0.0.0.0", int(port)


def console_from(
    sites: list[Site], args: argparse.Namespace
) -> tuple[Console, Coroutine[Any, Any, None]]:
    """The console the options describe, and the coroutine that runs it.

    Raises `LookupError` or `ValueError` with a message for the user.
    """
    from firegw.console.server import Console, tls_context  # noqa: PLC0415  # aiohttp's server

    if (args.certificate is None) != (args.key is None):
        raise ValueError("give both --certificate and --key for HTTPS, or neither")
    host, port = listen_address(args.listen)
    tls = tls_context(args.certificate, args.key) if args.certificate else None
    console = Console(
        sites,
        state=args.state,
        default_language=args.language,
        broker=_broker(args),
        login=_login(args),
        client_id=getattr(args, "client_id", None),
        journal_days=args.journal_days,
    )
    if not len(console.accounts):
        print(
            "console: no operator of these sites has a password: nobody can log in "
            "(see `firegw password-hash`)",
            file=sys.stderr,
        )
    return console, console.run(host, port, tls=tls)


def _console(args: argparse.Namespace, run: Runner) -> int:
    sites = []
    for path in args.configs:
        try:
            sites.append(load_site(path))
        except ConfigError as error:
            print(error, file=sys.stderr)
            return EXIT_CONFIG
    try:
        _, serving = console_from(sites, args)
    except (LookupError, ValueError, OSError) as error:
        print(f"console: {error}", file=sys.stderr)
        return EXIT_CONFIG
    return run(serving)


def _login(args: argparse.Namespace) -> tuple[str, str | None] | None:
    """The console's own broker login, when given (otherwise each site's `mqtt:` login)."""
    username = getattr(args, "mqtt_username", None)
    if username is None:
        return None
    password = None
    if getattr(args, "mqtt_password_file", None) is not None:
        password = args.mqtt_password_file.read_text(encoding="utf-8").strip()
    return username, password


def _broker(args: argparse.Namespace) -> BrokerSpec | None:
    """`--broker`: every site's feed from there (with the console's login), or None."""
    broker = getattr(args, "broker", None)
    if broker is None:
        return None
    login = _login(args)
    username, password = login if login else (None, None)
    host, _, port = broker.rpartition(":")
    if not port.isdigit() or not host:
        raise ValueError(f"--broker wants HOST:PORT, got {broker!r}")
    tls = None
    if args.ca_file is not None:
        import ssl  # noqa: PLC0415

        tls = ssl.create_default_context(cafile=str(args.ca_file))
    return BrokerSpec(host=host, port=int(port), username=username, password=password, tls=tls)


def _password_hash(site: Site | None, args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("a console password has at least 8 characters", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0
