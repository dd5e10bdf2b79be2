"""The shared side, as real servers on free loopback ports: Mosquitto and InfluxDB 1.x.

Both are async context managers that start the server in a temporary folder of their own and
stop it on exit; `pid` is there so that a benchmark can measure the server from outside
(`bench.procstat`). Unlike `firegw.embedded_broker.EmbeddedBroker` there is no fallback: a
benchmark of the shared side needs the real server, and says which command installs it when
it is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bench.machine import INFLUXD, MOSQUITTO
from bench.site import free_ports

START_TIMEOUT = 20.0


class Server:
    """A server process with its folder and log; started by a subclass's `command`."""

    name = "server"
    binary = ""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port, self.extra_port = free_ports(2)
        self._folder = tempfile.TemporaryDirectory(prefix=f"firegw-bench-{self.name}-")
        self.folder = Path(self._folder.name)
        self.log = self.folder / f"{self.name}.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def command(self, binary: str) -> list[str]:
        raise NotImplementedError

    async def ready(self) -> bool:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        found = (
            self.binary if os.access(self.binary, os.X_OK) else shutil.which(Path(self.binary).name)
        )
        if found is None:
            raise RuntimeError(f"{self.binary} is not installed; ./dev test installs it")
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.command(found),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while not await self.ready():
            if self.process.returncode is not None or asyncio.get_running_loop().time() > deadline:
                await self.__aexit__(None, None, None)
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} did not start; its log ends with:\n{tail}")
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10.0)
            except TimeoutError:
                process.kill()
                await process.wait()
        self._folder.cleanup()


class Mosquitto(Server):
    """Mosquitto on a free port: anonymous, no persistence, no log."""

    name = "mosquitto"
    binary = MOSQUITTO

    def command(self, binary: str) -> list[str]:
        config = self.folder / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} {self.host}\nallow_anonymous true\n"
            "persistence false\nlog_dest none\n"
        )
        return [binary, "-c", str(config)]

    async def ready(self) -> bool:
        try:
            _, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True


class InfluxDB(Server):
    """InfluxDB 1.x (`influxd`) on free ports with its data in a temporary folder, auth off."""

    name = "influxd"
    binary = INFLUXD

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self, binary: str) -> list[str]:
        config = self.folder / "influxdb.conf"
        root = self.folder
        config.write_text(
            f'reporting-disabled = true\nbind-address = "{self.host}:{self.extra_port}"\n'
            f'[meta]\n  dir = "{root / "meta"}"\n  logging-enabled = false\n'
            f'[data]\n  dir = "{root / "data"}"\n  wal-dir = "{root / "wal"}"\n'
            "  query-log-enabled = false\n"
            f'[http]\n  bind-address = "{self.host}:{self.port}"\n  auth-enabled = false\n'
            "  log-enabled = false\n[monitor]\n  store-enabled = false\n"
            '[logging]\n  level = "warn"\n  suppress-logo = true\n'
        )
        return [binary, "-config", str(config)]

    async def ready(self) -> bool:
        return await asyncio.to_thread(self._ping)

    async def create_database(self, name: str) -> None:
        """``CREATE DATABASE`` (a no-op when it exists)."""
        await asyncio.to_thread(self._query, {"q": f'CREATE DATABASE "{name}"'}, post=True)

    async def count(self, database: str, measurement: str, field: str) -> int:
        """How many points of `measurement` have `field`, 0 when there are none yet."""
        body = await asyncio.to_thread(
            self._query, {"db": database, "q": f'SELECT count("{field}") FROM "{measurement}"'}
        )
        for result in body.get("results", []):
            for series in result.get("series", []):
                return int(series["values"][0][1])
        return 0

    async def has_points(self, database: str) -> bool:
        """Whether anything has been written to `database` (it has a measurement)."""
        body = await asyncio.to_thread(
            self._query, {"db": database, "q": "SHOW MEASUREMENTS LIMIT 1"}
        )
        return any(result.get("series") for result in body.get("results", []))

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return bool(response.status == 204)
        except (urllib.error.URLError, OSError):
            return False

    def _query(self, params: dict[str, str], *, post: bool = False) -> dict[str, Any]:
        query = urllib.parse.urlencode(params)
        request = (
            urllib.request.Request(f"{self.url}/query", data=query.encode())
            if post
            else urllib.request.Request(f"{self.url}/query?{query}")
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            parsed: dict[str, Any] = json.load(response)
        return parsed
