"""compose.yaml, the whole demo in containers, checked without running it: docker-compose
accepts the file, and the site and scenario it mounts load as the containers will load them
(every host they name is a service, the outbox lies in the gateway's volume).

Running it needs the Mosquitto and InfluxDB images from a registry and a bridge network,
which the tests' own Docker engine (tests/deploy/test_docker_image.py) has neither of."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from gateway.config import load_site
from simulators import load_scenario
from tests.servers import require_binary

ROOT = Path(__file__).resolve().parents[2]
IMAGE_CONFIG = "/usr/share/firegw/config/"
"""Where the Dockerfile puts the repository's config/ (profiles, scenarios)."""


def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(document, dict)
    return document


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """A service's mounts, container path to what is mounted there."""
    return {target: source for source, target, *_ in (v.split(":") for v in service["volumes"])}


def in_repository(source: str) -> Path:
    return ROOT / source.removeprefix("./")


def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(
        [
            require_binary("/usr/bin/docker-compose"),
            "-f",
            str(ROOT / "compose.yaml"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert set(compose()["services"]) == {"mosquitto", "influxdb", "simulators", "gateway"}


def test_the_mounted_site_and_scenario_load_as_in_the_containers(tmp_path: Path) -> None:
    services = compose()["services"]
    gateway, simulators = mounts(services["gateway"]), mounts(services["simulators"])
    assert gateway["/etc/firegw/site.yaml"] == simulators["/etc/firegw/site.yaml"]
    state = gateway["/var/lib/firegw"]
    assert state in compose()["volumes"]  # a named volume: the image gives it to uid 10001
    text = in_repository(gateway["/etc/firegw/site.yaml"]).read_text()
    site_file = tmp_path / "site.yaml"
    site_file.write_text(text.replace(IMAGE_CONFIG, f"{ROOT}/config/"))
    site = load_site(site_file)
    assert site.outbox_path.parent == Path("/var/lib/firegw")
    hosts = {endpoint.host for endpoint in site.config.modbus.endpoints}
    assert site.config.mqtt is not None
    hosts.add(site.config.mqtt.host)
    hosts |= {connection.url.split("/")[2].split(":")[0] for connection in site.influx_connections}
    assert hosts == {"simulators", "mosquitto", "influxdb"}
    command = services["simulators"]["command"]
    scenario = command[command.index("--scenario") + 1]
    assert load_scenario(in_repository(simulators[scenario]), site).steps
