"""The guard console: from an alarm on the broker to the alarm on the page, measured in the
browser, with 1,000 active alarms on the board; and the console's CPU and memory at the
reference site.

    .venv/bin/python -m bench.console_latency [--alarms 1000] [--samples 300] [--rate 10]
        [--seconds 30] [--quick] [--out bench/results/console[-quick].json]

Mosquitto is a process of its own and so is the console (`python -m firegw console`, the
reference site with two operators). Headless Chromium (Debian's, driven by Playwright) is
logged in and shows the board.

1. Latency (target: p99 under 250 ms). This process publishes `--alarms` retained alarm
   documents on the site's topics, as a gateway would (every rule of every device of the
   reference site: fires, faults, pressures, cameras), waits until the page shows them all,
   then changes one alarm at a time, `--rate` a second, `--samples` times, each document
   stamped with the wall-clock time of its publication. The page reports, from its own draw
   loop, the moment each changed row is in the DOM (`performance.timeOrigin + now()`, the
   same clock on the same machine): the latency is that minus the publication time.
2. Footprint: the reference site's simulators in this process, the gateway as plain
   `firegw run`, the console and one browser on the board: after a warm-up, the console's
   CPU share of one core and its peak RSS over `--seconds`, from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt

from bench.machine import machine
from bench.processes import start, start_simulators, stop_process
from bench.procstat import Watch
from bench.servers import Mosquitto
from bench.site import DEFAULT_SITE, RESULTS, free_ports, write_site
from bench.stats import summary
from firegw.console import hash_password
from gateway.alarms import FeedTopics
from gateway.config import load_site
from gateway.operators import new_key

TARGET = 0.250
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "bench-pass-phrase"
_RULES = {
    "smoke_detector": [
        ("fire", "fire", "critical", True),
        ("pre_alarm", "fire", "high", False),
        ("detector_fault", "trouble", "medium", False),
        ("detector_isolated", "trouble", "medium", False),
        ("detector_maintenance", "maintenance", "low", False),
        ("comms_lost", "trouble", "high", False),
    ],
    "hydrant_pressure": [
        ("pressure_low", "supervisory", "high", False),
        ("pressure_high", "supervisory", "medium", False),
        ("signal_invalid", "trouble", "medium", False),
        ("comms_lost", "trouble", "medium", False),
    ],
    "camera": [
        ("camera_offline", "trouble", "high", False),
        ("camera_not_recording", "trouble", "high", False),
        ("camera_video_loss", "trouble", "high", False),
        ("comms_lost", "trouble", "medium", False),
    ],
}
_PROBE = """
window.__firegwSamples = [];
window.firegwProbe = (keys) => {
  const at = performance.timeOrigin + performance.now();
  if (keys) for (const key of keys) window.__firegwSamples.push([key, at]);
};
"""


def with_operators(site_file: Path, folder: Path) -> None:
    """Add a supervisor with a key and a console password to the site file."""
    key, password = folder / "bench.key", folder / "bench.password"
    key.write_text(new_key() + "\n")
    password.write_text(hash_password(PASSWORD) + "\n")
    for path in (key, password):
        path.chmod(0o600)
    site_file.write_text(
        site_file.read_text()
        + "operators:\n"
        + f"- {{id: bench, name: Bench, role: supervisor, key: {{file: {key}}}, "
        + f"password: {{file: {password}}}}}\n"
    )


def alarms_of(site_file: Path, count: int) -> list[dict[str, Any]]:
    """`count` alarm documents as the gateway publishes them, for the site's devices."""
    site = load_site(site_file)
    now = time.time_ns()
    documents = []
    for device in site.config.devices:
        zone = site.zones[device.zone]
        for rule, alarm_class, priority, latched in _RULES[str(device.kind)]:
            documents.append(
                {
                    "id": f"{rule}:{device.id}",
                    "site": site.config.site.id,
                    "building": zone.building,
                    "zone": zone.id,
                    "device": device.id,
                    "rule": rule,
                    "class": alarm_class,
                    "priority": priority,
                    "state": "unacknowledged",
                    "active": True,
                    "latched": latched,
                    "needs_person": True,
                    "value": None,
                    "message": f"{device.id} {rule}",
                    "raised_at": now,
                    "observed_at": now,
                    "acknowledged_by": None,
                    "acknowledged_at": None,
                    "on_site_by": None,
                    "on_site_at": None,
                    "escalation_level": 0,
                    "shelved": False,
                    "shelved_by": None,
                    "shelved_until": None,
                    "out_of_service": False,
                    "out_of_service_by": None,
                    "activations": 1,
                    "chattering": False,
                    "stale": False,
                    "updated_at": now,
                }
            )
    if len(documents) < count:
        raise SystemExit(f"the site has rules for {len(documents)} alarms, not {count}")
    return documents[:count]


@contextlib.asynccontextmanager
async def console_process(site_file: Path, folder: Path) -> AsyncIterator[tuple[Any, str]]:
    (port,) = free_ports(1)
    command = [sys.executable, "-m", "firegw", "--log-level", "warning", "console"]
    command += [str(site_file), "--listen", f"127.0.0.1:{port}", "--state", str(folder / "state")]
    command += ["--language", "en", "--client-id", f"bench-console-{port}"]
    process = await start(command, folder / "console.log")
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "console.log").read_text()[-2000:]) from None
            await asyncio.sleep(0.1)
        else:
            writer.close()
            break
    try:
        yield process, url
    finally:
        await stop_process(process)


@contextlib.asynccontextmanager
async def board_page(url: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright  # noqa: PLC0415 (only for the browser)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            await page.add_init_script(_PROBE)
            await page.goto(url)
            await page.fill("#operator", "bench")
            await page.fill("#password", PASSWORD)
            await page.click("#login button[type=submit]")
            await page.wait_for_selector("#board:not([hidden])", timeout=60_000)
            yield page
        finally:
            await browser.close()


async def latency(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    async with Mosquitto() as broker:
        site_file = write_site(DEFAULT_SITE, folder, mqtt_port=broker.port, poll=1.0)
        with_operators(site_file, folder)
        topics = FeedTopics.for_site(load_site(site_file))
        documents = alarms_of(site_file, args.alarms)
        async with (
            aiomqtt.Client(broker.host, broker.port) as client,
            console_process(site_file, folder) as (process, url),
        ):
            for document in documents:
                await client.publish(
                    topics.alarm(document["id"]), json.dumps(document), qos=1, retain=True
                )
            async with board_page(url) as page:
                await page.wait_for_function(
                    f"document.querySelectorAll('#alarms tr').length >= {args.alarms}",
                    timeout=120_000,
                )
                watch = Watch({"console": process.pid})
                watch.start()
                sent: dict[str, float] = {}
                for n in range(args.samples):
                    document = dict(documents[n % len(documents)])
                    document["escalation_level"] = 1 + n % 3
                    document["updated_at"] = time.time_ns()
                    key = f"{document['site']}/{document['id']}"
                    sent[key] = time.time() * 1000
                    await client.publish(
                        topics.alarm(document["id"]), json.dumps(document), qos=1, retain=True
                    )
                    await asyncio.sleep(1 / args.rate)
                    if n % len(documents) == len(documents) - 1:
                        sent.clear()  # a key is measured once per cycle
                await asyncio.sleep(1.0)
                footprint = watch.stop()["console"]
                samples = await page.evaluate("window.__firegwSamples")
                rows = await page.evaluate("document.querySelectorAll('#alarms tr').length")
    seen: dict[str, float] = {}
    for key, at in samples:
        if key in sent and key not in seen and at >= sent[key]:
            seen[key] = at
    delays = [(seen[key] - sent[key]) / 1000 for key in seen]
    return {
        "alarms_on_board": rows,
        "samples": len(sent),
        "measured": len(delays),
        "latency": summary(delays, TARGET),
        "console_while_updating": footprint,
    }


async def footprint(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    async with Mosquitto() as broker, contextlib.AsyncExitStack() as stack:

        def write() -> Path:
            site_file = write_site(DEFAULT_SITE, folder, mqtt_port=broker.port, poll=1.0)
            with_operators(site_file, folder)
            return site_file

        site_file, _, _ = await start_simulators(stack, write, control_port=None)
        gateway = await start(
            [sys.executable, "-m", "firegw", "run", str(site_file)], folder / "gateway.log"
        )
        try:
            async with console_process(site_file, folder) as (process, url), board_page(url):
                await asyncio.sleep(args.warm_up)
                watch = Watch({"console": process.pid, "gateway": gateway.pid})
                watch.start()
                await asyncio.sleep(args.seconds)
                return watch.stop()
        finally:
            await stop_process(gateway)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="firegw-bench-console-") as name:
        folder = Path(name)
        (folder / "a").mkdir()
        (folder / "b").mkdir()
        result = {
            "latency": await latency(args, folder / "a"),
            "footprint": await footprint(args, folder / "b"),
        }
    result["machine"] = machine("mosquitto")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alarms", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warm-up", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.samples, args.seconds, args.warm_up = 50, 10.0, 5.0
    out = args.out or RESULTS / f"console{'-quick' if args.quick else ''}.json"
    result = asyncio.run(run(args))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    lat, console = result["latency"]["latency"], result["footprint"]["console"]
    print(
        f"broker -> page with {result['latency']['alarms_on_board']} alarms on the board: "
        f"p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, p99 {lat['p99_ms']} ms "
        f"(target {TARGET * 1000:g} ms: {'met' if lat['pass'] else 'NOT met'}), "
        f"{result['latency']['measured']} samples"
    )
    print(
        f"console at the reference site: {console['cpu_percent_of_one_core']}% of one core, "
        f"peak RSS {console['peak_rss_kb'] / 1024:.1f} MB; results in {out}"
    )
    return 0 if lat["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
