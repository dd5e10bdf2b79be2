"""Real servers for integration tests: Mosquitto, InfluxDB 1.x, VictoriaMetrics (a real peer
for the InfluxDB v2 write API) and Prometheus (scraping the gateway) on free ports in temp dirs.

Each server is a small class with `start` and `stop` (also a context manager), so a test can
take a server away and bring it back on the same port with the same data. A missing binary
fails the test with the command that installs it: integration tests never skip quietly.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

MOSQUITTO = "/usr/sbin/mosquitto"
INFLUXD = "/usr/bin/influxd"
SOCAT = "/usr/bin/socat"
VICTORIA_METRICS = "/usr/bin/victoria-metrics"
PROMETHEUS = "/usr/bin/prometheus"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, from the kernel's ephemeral
    range: never one of the ports below it that a test holds for simulators it starts later
    (`bench.modbus_endpoints_site.quiet_ports`, as the slow-start test does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(path: str) -> str:
    """Return `path` (or the same program found on PATH); fail the test if neither exists."""
    found = path if os.access(path, os.X_OK) else shutil.which(Path(path).name)
    if found is None:
        pytest.fail(
            f"{path} is not installed; run ./dev test, which installs mosquitto, influxdb,"
            " victoria-metrics, prometheus, mbpoll and socat",
            pytrace=False,
        )
    return found


class _Process:
    """A server process with its log file; shared start/stop plumbing."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir
        self.log = workdir / f"{name}.log"
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self, command: list[str]) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait_until(self, ready: Any, what: str) -> None:
        """Poll `ready()` until it is true; raise with the server's log if it never is."""
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if not self.running or time.monotonic() > deadline:
                self.stop()
                log = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.name} did not become ready ({what}); log:\n{log}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Terminate the server and wait for it; kill it if it will not go."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class MosquittoServer(_Process):
    """A Mosquitto broker on 127.0.0.1, without persistence; anonymous unless `settings`
    (lines of mosquitto.conf: TLS, a password file, an ACL) say otherwise.

    `stop` then `start` brings it back on the same port.
    """

    def __init__(self, workdir: Path, port: int | None = None, settings: str = "") -> None:
        super().__init__(workdir, "mosquitto")
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.config = workdir / "mosquitto.conf"
        self.settings = settings or "allow_anonymous true\n"
        if os.geteuid() == 0:  # it would drop to user mosquitto, which cannot read tmp_path
            self.settings += "user root\n"

    def start(self) -> Self:
        """Start the broker and return once it accepts connections."""
        binary = require_binary(MOSQUITTO)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f"listener {self.port} {self.host}\n{self.settings}persistence false\nlog_dest stderr\n"
        )
        self.launch([binary, "-c", str(self.config)])
        self.wait_until(lambda: port_open(self.host, self.port), f"port {self.port}")
        return self


class InfluxServer(_Process):
    """An InfluxDB 1.x server on 127.0.0.1 with its data in `workdir`, auth off; over https
    when given a `certificate` and its `key` (PEM files).

    `stop` then `start` brings it back on the same ports with the same data.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        certificate: Path | None = None,
        key: Path | None = None,
        ca: Path | None = None,
        admin: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(workdir, "influxd")
        self.admin = admin
        """(user, password) of an admin made at start: authentication is then on."""
        self._logged_in = False
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.rpc_port = free_port()
        self.certificate, self.key, self.ca = certificate, key, ca
        scheme = "https" if certificate is not None else "http"
        self.url = f"{scheme}://{self.host}:{self.port}"
        self.config = workdir / "influxdb.conf"

    def start(self) -> Self:
        """Start the server and return once ``/ping`` answers 204."""
        binary = require_binary(INFLUXD)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(self._config_text())
        self.launch([binary, "-config", str(self.config)])
        self.wait_until(self.ping, f"{self.url}/ping")
        if self.admin is not None:  # the first user may be made without a login; it must be admin
            user, password = self.admin
            self._logged_in = False
            self.statement(f"CREATE USER {user} WITH PASSWORD '{password}' WITH ALL PRIVILEGES")
            self._logged_in = True
        return self

    def _config_text(self) -> str:
        root = self.workdir
        return f"""\
reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"

[meta]
  dir = "{root / "meta"}"
  logging-enabled = false

[data]
  dir = "{root / "data"}"
  wal-dir = "{root / "wal"}"
  query-log-enabled = false

[http]
  bind-address = "{self.host}:{self.port}"
  auth-enabled = {"true" if self.admin else "false"}
  log-enabled = false
  pprof-enabled = false
{self._https()}
[monitor]
  store-enabled = false

[continuous_queries]
  log-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
"""

    def _https(self) -> str:
        if self.certificate is None or self.key is None:
            return ""
        return (
            f'  https-enabled = true\n  https-certificate = "{self.certificate}"\n'
            f'  https-private-key = "{self.key}"\n'
        )

    def _context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.ca)) if self.ca is not None else None

    def ping(self) -> bool:
        """Whether the server answers ``/ping`` with 204."""
        try:
            ping = f"{self.url}/ping"
            with urllib.request.urlopen(ping, timeout=1, context=self._context()) as response:
                return bool(response.status == 204)
        except (urllib.error.URLError, OSError):
            return False

    def create_database(self, name: str) -> None:
        """``CREATE DATABASE`` (a no-op when it exists)."""
        self._request("POST", {"q": f'CREATE DATABASE "{name}"'})

    def query(self, db: str, q: str) -> list[dict[str, Any]]:
        """Run `q` and return the rows of every series as dicts, times as epoch nanoseconds.

        Series tags (from ``GROUP BY``) are merged into each row.
        """
        body = self._request("GET", {"db": db, "q": q, "epoch": "ns"})
        rows: list[dict[str, Any]] = []
        for result in body.get("results", []):
            if "error" in result:
                raise RuntimeError(f"query {q!r} failed: {result['error']}")
            for series in result.get("series", []):
                tags = series.get("tags", {})
                rows.extend(
                    {**tags, **dict(zip(series["columns"], values, strict=True))}
                    for values in series["values"]
                )
        return rows

    def _request(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        query = urllib.parse.urlencode(params)
        if method == "GET":
            request = urllib.request.Request(f"{self.url}/query?{query}")
        else:
            request = urllib.request.Request(f"{self.url}/query", data=query.encode())
        if self.admin is not None and self._logged_in:
            user, password = self.admin
            login = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {login}")
        with urllib.request.urlopen(request, timeout=10, context=self._context()) as response:
            parsed: dict[str, Any] = json.load(response)
        return parsed

    def statement(self, q: str) -> None:
        """Run one InfluxQL statement as the admin (CREATE USER, GRANT, ...); raise its error."""
        for result in self._request("POST", {"q": q}).get("results", []):
            if "error" in result:
                raise RuntimeError(f"{q!r} failed: {result['error']}")


class VictoriaMetricsServer(_Process):
    """VictoriaMetrics on 127.0.0.1 with its data in `workdir`: it accepts ``/api/v2/write``.

    Retention is 100 years so that test timestamps from 2023 are kept. It stores each numeric
    field as a series ``<measurement>_<field>`` at millisecond precision and does not merge
    duplicates, so a line written twice shows up twice in `export`. `stop` then `start`
    brings it back on the same port with the same data.
    """

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir, "victoria-metrics")
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.url = f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        """Start the server and return once ``/health`` answers."""
        binary = require_binary(VICTORIA_METRICS)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.launch(
            [
                binary,
                f"-storageDataPath={self.workdir / 'data'}",
                f"-httpListenAddr={self.host}:{self.port}",
                "-retentionPeriod=100y",
                "-loggerLevel=WARN",
            ]
        )
        self.wait_until(self.healthy, f"{self.url}/health")
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def export(self, metric: str) -> list[tuple[dict[str, str], float, int]]:
        """Every stored sample of `metric` as (labels, value, timestamp in ms), duplicates kept.

        Flushes the server's buffers first, so what it acknowledged is visible.
        """
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10):
            pass
        query = urllib.parse.urlencode({"match[]": metric})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10) as response:
            series = [json.loads(line) for line in response.read().splitlines() if line]
        return [
            (item["metric"], value, at)
            for item in series
            for value, at in zip(item["values"], item["timestamps"], strict=True)
        ]


class SerialPair(_Process):
    """Two pseudo-terminals joined by socat, like a null-modem cable: what one end writes the
    other reads. `gateway` and `simulator` are the two device paths (links in `workdir`)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "socat")
        self.gateway = str(workdir / "gw")
        self.simulator = str(workdir / "sim")

    def start(self) -> Self:
        """Start socat and return once both ends exist."""
        binary = require_binary(SOCAT)
        self.workdir.mkdir(parents=True, exist_ok=True)
        ends = [f"pty,raw,echo=0,link={path}" for path in (self.gateway, self.simulator)]
        self.launch([binary, "-d", "-d", *ends])
        self.wait_until(
            lambda: all(os.path.exists(p) for p in (self.gateway, self.simulator)),
            f"links {self.gateway} and {self.simulator}",
        )
        return self


class PrometheusServer(_Process):
    """Prometheus on 127.0.0.1 scraping `targets` (host:port) every second as job `firegw`,
    with its data in `workdir`."""

    def __init__(self, workdir: Path, targets: list[str], port: int | None = None) -> None:
        super().__init__(workdir, "prometheus")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets = targets

    def start(self) -> Self:
        """Start the server and return once it says it is ready."""
        binary = require_binary(PROMETHEUS)
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: firegw\n    static_configs: [{{targets: {json.dumps(self.targets)}}}]\n"
        )
        self.launch(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ]
        )
        self.wait_until(self.ready, f"{self.url}/-/ready")
        return self

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def query(self, expression: str) -> list[tuple[dict[str, str], float]]:
        """The instant vector of `expression` now, as (labels, value) pairs."""
        query = urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=10) as response:
            body = json.load(response)
        return [(item["metric"], float(item["value"][1])) for item in body["data"]["result"]]


DOCKERD = "/usr/sbin/dockerd"
DEBOOTSTRAP = "/usr/sbin/debootstrap"
DOCKER_STATE = Path("/var/tmp/firegw-test-docker")
"""The test daemon's images and build cache, kept between runs on one machine."""
DOCKER_BASE = "firegw-test/debian-python:bookworm"


class DockerDaemon(_Process):
    """A Docker engine of the tests' own (dockerd as root, vfs storage, no bridge network: the
    containers use the host's), on a socket in `DOCKER_STATE`, so nothing depends on a
    system daemon being set up. `docker(...)` runs the client against it."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "dockerd")
        self.socket = DOCKER_STATE / "docker.sock"
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_BUILDKIT": "0"}

    def start(self) -> Self:
        binary = require_binary(DOCKERD)
        require_binary("/usr/bin/docker")
        if os.geteuid() != 0:
            pytest.fail("the Docker image tests start their own dockerd: run them as root")
        DOCKER_STATE.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self.launch(
            [
                binary,
                f"--data-root={DOCKER_STATE / 'root'}",
                f"--exec-root={DOCKER_STATE / 'exec'}",
                f"--pidfile={DOCKER_STATE / 'dockerd.pid'}",
                f"--host=unix://{self.socket}",
                "--storage-driver=vfs",
                "--iptables=false",
                "--bridge=none",
            ]
        )
        self.wait_until(lambda: self.docker("info").returncode == 0, "docker info")
        return self

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def base_image(self) -> str:
        """A Debian bookworm image with Python 3.11, made here with debootstrap from Debian's
        packages (no image registry is needed), trusting this machine's certificate
        authorities as pip's (the machine may reach PyPI through a proxy that re-signs)."""
        if self.docker("image", "inspect", DOCKER_BASE).returncode == 0:
            return DOCKER_BASE
        rootfs = DOCKER_STATE / "rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        subprocess.run(
            [
                require_binary(DEBOOTSTRAP),
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "bookworm",
                str(rootfs),
                "http://deb.debian.org/debian",
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            [
                "docker",
                "import",
                "--change",
                "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
                "-",
                DOCKER_BASE,
            ],
            stdin=tar.stdout,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        tar.wait()
        shutil.rmtree(rootfs, ignore_errors=True)
        return DOCKER_BASE
