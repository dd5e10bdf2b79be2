"""The `firegw` command: check a config, run the gateway, run the simulators, or the demo."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from core import quiet_loop_errors
from firegw.audit import add_audit_command
from firegw.broker_acl import add_broker_acl_command
from firegw.console import add_console_commands
from firegw.logs import LogForm, setup_logging
from firegw.operator import add_broker_option, add_operator_commands
from firegw.rejected import add_rejected_command
from firegw.report import add_report_command
from firegw.version import version
from gateway.config import ConfigError, Site, load_site, redact_url
from rules import DeviceKind

DEFAULT_SITE = Path(__file__).resolve().parent.parent / "config" / "hospital.yaml"
DEFAULT_SCENARIO = DEFAULT_SITE.parent / "scenarios" / "demo.yaml"
EXIT_CONFIG = 2
EXIT_BROKEN_PIPE = 141
"""What a shell reports for a command ended by SIGPIPE (128 + 13), as `head` expects."""

log = logging.getLogger("firegw")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is not _run:  # the gateway turns it on once it has started
        gc.enable()
    setup_logging(args.log_level, LogForm(args.log_format))
    # pymodbus logs every timeout at ERROR; the driver logs each device's failure once instead.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    try:
        return _command(args)
    except BrokenPipeError:
        # The reader went away (`firegw check site.yaml | head`): what was asked for is shown.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _command(args: argparse.Namespace) -> int:
    if not getattr(args, "needs_site", True):
        return int(args.command(None, args) or 0)
    try:
        # check and run also check this machine: the outbox can be written, every secret read.
        site = load_site(args.config, storage_and_secrets=args.command in (_check, _run))
        if getattr(args, "broker", None):
            from firegw.sitecopy import on_broker

            host, port = _host_port(args.broker, "--broker")
            site = on_broker(site, host if args.broker[0] != ":" else "127.0.0.1", port)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    except ValueError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    result = int(args.command(site, args) or 0)
    sys.stdout.flush()  # a closed pipe is found here, inside the BrokenPipeError handler
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firegw", description=__doc__)
    parser.add_argument("--version", action="version", version=f"firegw {version()}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=[form.value for form in LogForm],
        help="text (with the time and its zone), journal (no time, syslog priorities: chosen by"
        " itself when standard error is the systemd journal) or json (one object a line)",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate a site config and summarise it")
    check.add_argument("config", type=Path)
    check.set_defaults(command=_check)

    run = commands.add_parser("run", help="run the gateway for a site")
    run.add_argument("config", type=Path)
    run.add_argument(
        "--console",
        metavar="HOST:PORT",
        help="also serve the guard console for this site, in this process (see firegw console)",
    )
    run.add_argument(
        "--console-state",
        type=Path,
        default=Path("var/console"),
        help="the console's journal and sessions (default var/console)",
    )
    run.add_argument("--console-certificate", type=Path, help="the console over HTTPS")
    run.add_argument("--console-key", type=Path, help="the key of --console-certificate")
    run.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve Prometheus metrics on /metrics and a health check on /healthz",
    )
    run.set_defaults(command=_run)

    simulate = commands.add_parser("simulate", help="run simulators for every device of a site")
    simulate.add_argument("config", type=Path)
    simulate.add_argument("--scenario", type=Path, help="a scenario file of timed faults")
    simulate.add_argument(
        "--control-port",
        type=int,
        default=0,
        help="port of the JSON-lines fault control interface (default: any)",
    )
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument(
        "--serial",
        type=_serial_port,
        action="append",
        default=[],
        metavar="ENDPOINT=PATH",
        help="serve the RTU endpoint ENDPOINT on the serial device PATH, the "
        "other end of the gateway's line; once per serial endpoint",
    )
    simulate.set_defaults(command=_simulate)

    alarms = commands.add_parser("alarms", help="watch a site's alarms live, from its broker")
    alarms.add_argument("config", type=Path)
    add_broker_option(alarms)
    alarms.set_defaults(command=_alarms)
    add_rejected_command(commands)
    add_audit_command(commands)
    add_report_command(commands)

    status = commands.add_parser(
        "status", help="the running gateway's health: devices, alarms, outbox, databases"
    )
    status.add_argument("config", type=Path)
    add_broker_option(status)
    status.add_argument(
        "--all",
        action="store_true",
        dest="every_device",
        help="list every device, not only those that are not ok",
    )
    status.set_defaults(command=_status, log_level="warning")

    add_operator_commands(commands)
    add_broker_acl_command(commands)
    add_console_commands(commands, run=_until_signal)

    demo = commands.add_parser("demo", help="simulated hospital + broker + gateway, live")
    demo.add_argument("config", type=Path, nargs="?", default=DEFAULT_SITE)
    demo.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    demo.add_argument("--duration", type=float, help="stop after this many seconds")
    demo.add_argument(
        "--amqtt",
        action="store_true",
        help="use the embedded amqtt broker even when Mosquitto is installed",
    )
    demo.add_argument(
        "--console-port", type=int, default=0, help="port of the guard console (default: any)"
    )
    demo.add_argument(
        "--keep-state",
        action="store_true",
        help="start from the alarms and outbox of the last run (var/demo), not afresh",
    )
    demo.set_defaults(command=_demo, log_level="warning")
    return parser


def _check(site: Site, args: argparse.Namespace) -> int:
    for warning in site.warnings:  # doubtful, not wrong: the site is still OK
        print(warning, file=sys.stderr)
    config = site.config
    counts = site.count_by_kind()
    print(f"{args.config}: OK")
    print(
        f"site {config.site.id} ({config.site.name}): {len(site.buildings)} buildings, "
        f"{len(site.zones)} zones, {len(site.devices)} devices"
    )
    print(
        f"  {counts[DeviceKind.SMOKE_DETECTOR]} smoke detectors, "
        f"{counts[DeviceKind.HYDRANT_PRESSURE]} hydrants, {counts[DeviceKind.CAMERA]} cameras"
    )
    broker = f"{config.mqtt.host}:{config.mqtt.port}" if config.mqtt else "none"
    print(
        f"  {len(config.modbus.endpoints)} Modbus endpoints, MQTT broker {broker}, "
        f"InfluxDB {_databases(site)}"
    )
    print(f"  profiles: {', '.join(sorted(site.profiles))}")
    print(f"  outbox: {site.outbox_path}")
    return 0


def _databases(site: Site) -> str:
    """Each `influxdb:` connection as "URL (api)", named when there are several."""
    connections = site.influx_connections
    if len(connections) == 1:
        return f"{redact_url(connections[0].url)} ({connections[0].api})"
    return ", ".join(f"{c.name} {redact_url(c.url)} ({c.api})" for c in connections) or "none"


def _run(site: Site, args: argparse.Namespace) -> int:
    from firegw.service import serve
    from gateway.runtime import Gateway

    try:
        gateway = Gateway(site)
        console = _console_beside(site, args) if args.console else None
        metrics = _host_port(args.metrics, "--metrics") if args.metrics else None
    except (LookupError, ValueError, OSError) as error:
        print(f"{args.config}: {error}", file=sys.stderr)
        return EXIT_CONFIG
    service = serve(gateway, metrics=metrics)
    if console is None:
        return _until_signal(service)
    return _until_signal(_together(service, _apart(console)))


def _console_beside(site: Site, args: argparse.Namespace) -> Coroutine[Any, Any, None]:
    """The guard console for the gateway's own site, served from the gateway's process.

    It is the same console as `firegw console`: it reads the feed from the broker like any
    client, so the gateway itself knows nothing of it.
    """
    from firegw.console import Console, listen_address, tls_context

    host, port = listen_address(args.console)
    if (args.console_certificate is None) != (args.console_key is None):
        raise ValueError("give both --console-certificate and --console-key, or neither")
    tls = (
        tls_context(args.console_certificate, args.console_key)
        if args.console_certificate
        else None
    )
    return Console([site], state=args.console_state).run(host, port, tls=tls)


async def _apart(console: Coroutine[Any, Any, None]) -> None:
    """The console beside the gateway: whatever stops it, the gateway goes on."""
    try:
        await console
    except Exception:
        log.exception("the guard console stopped; the gateway goes on without it")


async def _together(*works: Coroutine[Any, Any, None]) -> None:
    async with asyncio.TaskGroup() as tasks:
        for work in works:
            tasks.create_task(work)


def _host_port(text: str, option: str) -> tuple[str, int]:
    """`HOST:PORT` (`:PORT` for every address) as (host, port)."""
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{option} wants HOST:PORT, got {text!r}")
    return host or "0.0.0.0", int(port)


def _serial_port(text: str) -> tuple[str, str]:
    """`--serial ENDPOINT=PATH` as (endpoint id, device path)."""
    endpoint, _, path = text.partition("=")
    if not endpoint or not path:
        raise argparse.ArgumentTypeError(f"expected ENDPOINT=PATH, got {text!r}")
    return endpoint, path


def _simulate(site: Site, args: argparse.Namespace) -> int:
    from simulators import load_scenario, run_simulators, serial_ports_for

    try:
        serial_ports = serial_ports_for(site, dict(args.serial))
    except ValueError as error:
        print(f"{args.config}: {error}", file=sys.stderr)
        return EXIT_CONFIG
    scenario = load_scenario(args.scenario, site) if args.scenario else None
    return _until_signal(
        run_simulators(
            site,
            scenario=scenario,
            control_port=args.control_port,
            seed=args.seed,
            serial_ports=serial_ports,
        )
    )


def _demo(site: Site, args: argparse.Namespace) -> int:
    from firegw.demo import run_demo

    scenario = args.scenario if args.scenario and args.scenario.exists() else None
    # The screen shows every alarm event; logged as well, they would write over it.
    logging.getLogger("gateway.alarms.events").setLevel(logging.ERROR)
    try:
        return _until_signal(
            run_demo(
                site,
                scenario=scenario,
                duration=args.duration,
                use_mosquitto=not args.amqtt,
                console_port=args.console_port,
                keep_state=args.keep_state,
                site_file=args.config,
            )
        )
    except RuntimeError as error:  # no broker to run: what to install
        print(f"firegw demo: {error}", file=sys.stderr)
        return 1


def _alarms(site: Site, args: argparse.Namespace) -> int:
    import aiomqtt

    from firegw.alarms import broker_failure, watch_alarms

    try:
        return _until_signal(watch_alarms(site, sys.stdout))
    except aiomqtt.MqttError as error:
        print(broker_failure(site, error), file=sys.stderr)
        return 1


def _status(site: Site, args: argparse.Namespace) -> int:
    """Print the status the gateway last published (exit 1 if it is offline, stale or unknown)."""
    import aiomqtt

    from firegw.alarms import broker_failure, fetch_status
    from firegw.status import format_status, is_current

    try:
        document = asyncio.run(fetch_status(site))
    except aiomqtt.MqttError as error:
        print(broker_failure(site, error), file=sys.stderr)
        return 1
    except LookupError as error:
        print(f"{args.config}: {error}", file=sys.stderr)
        return 1
    print(format_status(document, every_device=args.every_device))
    return 0 if is_current(document) else 1


def _until_signal(work: Coroutine[Any, Any, None]) -> int:
    """Run `work` until it ends or SIGTERM/SIGINT arrives, then let it shut down cleanly.

    Exit status 0 when it ended or a signal stopped it; 1 when it was cancelled with no
    signal (a part of it cancelled the whole: a bug, said as such in the log).
    """

    async def supervised() -> int:
        task = asyncio.ensure_future(work)
        loop = asyncio.get_running_loop()
        quiet_loop_errors(loop, log)
        signalled: list[signal.Signals] = []

        def stop(signum: signal.Signals) -> None:
            signalled.append(signum)
            task.cancel()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop, signum)
        try:
            await task
        except asyncio.CancelledError:
            if not signalled:
                log.error("stopped: cancelled from inside, with no signal (a bug)")
                return 1
            log.info("stopped by %s", signalled[0].name)
        return 0

    return asyncio.run(supervised())
