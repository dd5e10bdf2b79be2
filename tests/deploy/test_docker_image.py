"""The Dockerfile built and run: the gateway in its container against the tests' Mosquitto and
the simulated clinic, healthy by its own HEALTHCHECK, stopped cleanly by `docker stop`; a
state folder it cannot write named in one line; no demo broker or test tools in the image.

The tests start a Docker engine of their own (`tests.servers.DockerDaemon`: root, vfs, the
host's network) and build the image on a Debian base made with debootstrap, so they need no
image registry. `./dev test` installs docker.io and debootstrap; the first run on a machine
takes several minutes (the base and the image are kept in /var/tmp for the next).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import load_site
from simulators import SimulatedSite
from tests.servers import DockerDaemon, MosquittoServer, free_port
from tests.sites import clinic_site, eventually

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "firegw-test/firegw:latest"
UID = 10001


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerDaemon]:
    with DockerDaemon(tmp_path_factory.mktemp("dockerd")) as daemon:
        daemon.start()
        base = daemon.base_image()
        built = daemon.docker(
            "build",
            "--network",
            "host",
            "--build-arg",
            f"BASE={base}",
            "-t",
            IMAGE,
            str(ROOT),
            timeout=1500,
        )
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        yield daemon


def site_folder(tmp_path: Path, mqtt_port: int) -> tuple[Path, Path]:
    """The clinic's site file for the container (its outbox in the volume), in a folder owned
    by the image's user; and the site file as the host's simulators read it."""
    folder = tmp_path / "etc"
    folder.mkdir()
    host_site = clinic_site(folder, mqtt_port=mqtt_port)
    text = host_site.read_text().replace(
        str(folder / "outbox.sqlite"), "/var/lib/firegw/outbox.sqlite"
    )
    text = text.replace(str(ROOT / "config" / "profiles"), "/usr/share/firegw/config/profiles")
    text = text.replace(str(folder), "/etc/firegw")  # the operators' keys
    (folder / "container.yaml").write_text(text)
    for path in (folder, *folder.rglob("*")):
        os.chown(path, UID, UID)
    return folder, host_site


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return answer.read().decode()


def test_the_image_says_its_version_and_holds_no_demo_broker_or_test_tools(
    engine: DockerDaemon,
) -> None:
    version = engine.docker("run", "--rm", IMAGE, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("firegw ")
    for module in ("amqtt", "pytest", "playwright"):
        probe = engine.docker(
            "run", "--rm", "--entrypoint", "python3", IMAGE, "-c", f"import {module}"
        )
        assert probe.returncode != 0, f"{module} is in the production image"
    user = engine.docker("run", "--rm", "--entrypoint", "id", IMAGE)
    assert user.stdout.startswith(f"uid={UID}(firegw) gid={UID}(firegw)")


def test_a_state_folder_the_gateway_cannot_write_is_named_in_one_line(
    engine: DockerDaemon, tmp_path: Path
) -> None:
    """The mistake of the Dockerfile's old comment: a host folder owned by root, mounted."""
    etc, _ = site_folder(tmp_path, mqtt_port=1883)
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    result = engine.docker(
        "run",
        "--rm",
        "--network",
        "host",
        "-v",
        f"{etc}:/etc/firegw:ro",
        "-v",
        f"{state}:/var/lib/firegw",
        IMAGE,
        "run",
        "/etc/firegw/container.yaml",
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    where, _, message = lines[0].partition(": ")
    assert re.fullmatch(r"container\.yaml:\d+", where)  # the file and line, as check says
    assert message == (
        "outbox.path: the folder '/var/lib/firegw' cannot be written by user firegw: give it to "
        f"that user (chown {UID}:{UID} /var/lib/firegw) or set another outbox.path"
    )


async def test_the_gateway_runs_healthy_in_its_container_and_stops_cleanly(
    engine: DockerDaemon, tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    etc, host_site = site_folder(tmp_path, mqtt_port=mosquitto.port)
    volume = f"firegw-test-{os.getpid()}"
    port = free_port()
    name = f"firegw-test-{port}"

    def docker(*args: str) -> str:
        result = engine.docker(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    async with SimulatedSite(load_site(host_site), seed=2):
        await asyncio.to_thread(docker, "volume", "create", volume)
        try:
            await asyncio.to_thread(
                docker,
                "run",
                "-d",
                "--name",
                name,
                "--network",
                "host",
                "--health-interval",
                "2s",
                "--health-start-period",
                "10s",
                "-e",
                f"FIREGW_HEALTHZ=http://127.0.0.1:{port}/healthz",
                "-v",
                f"{etc}:/etc/firegw:ro",
                "-v",
                f"{volume}:/var/lib/firegw",
                IMAGE,
                "run",
                "/etc/firegw/container.yaml",
                "--metrics",
                f"127.0.0.1:{port}",
            )

            async def health() -> bool:
                state = await asyncio.to_thread(
                    docker, "inspect", "--format", "{{json .State.Health.Status}}", name
                )
                return json.loads(state) == "healthy"

            await eventually(health, within=60, what="the container's HEALTHCHECK healthy")

            async def all_ok() -> bool:
                text = await asyncio.to_thread(metrics, port)
                return 'firegw_devices{state="ok"} 11' in text

            await eventually(all_ok, within=60, what="11 devices ok in the container's metrics")
            await asyncio.to_thread(docker, "stop", "-t", "30", name)
            code = await asyncio.to_thread(
                docker, "inspect", "--format", "{{.State.ExitCode}}", name
            )
            assert code == "0"
            logs = engine.docker("logs", name)
            assert "outbox flushed:" in logs.stderr
            assert "Traceback" not in logs.stderr
        finally:
            engine.docker("rm", "-f", name)
            engine.docker("volume", "rm", "-f", volume)
