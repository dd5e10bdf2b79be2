"""The systemd unit in deploy/systemd, checked by systemd's own tools.

This machine's tests do not run under systemd (no systemd as PID 1 in CI's container), so the
unit is checked with `systemd-analyze verify` (every directive known and well-formed, the
command executable) and `systemd-analyze security --offline` (the exposure of its sandbox);
`tests/firegw/test_service.py` runs `firegw run` under the protocol the unit asks for
(`Type=notify`, `WatchdogSec=`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import require_binary

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "firegw.service"
INSTALLED = "/opt/firegw/bin/firegw"


def analyze() -> str:
    return require_binary("/usr/bin/systemd-analyze")


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The unit with its command pointed at this checkout's firegw, which verify runs."""
    firegw = shutil.which("firegw", path=str(Path(sys.executable).parent))
    assert firegw is not None
    copy = tmp_path / "firegw.service"
    copy.write_text(UNIT.read_text().replace(INSTALLED, firegw))
    return copy


def test_systemd_analyze_verify_accepts_the_unit(unit: Path) -> None:
    result = subprocess.run(
        [analyze(), "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""


def test_the_sandbox_exposure_is_low(unit: Path) -> None:
    result = subprocess.run(
        [analyze(), "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for firegw.service: ([\d.]+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= 2.0  # systemd calls up to 2.0 "OK"


def test_the_unit_says_what_the_gateway_needs() -> None:
    settings = {}
    for line in UNIT.read_text().splitlines():
        key, equals, value = line.partition("=")
        if equals and not line.startswith("#"):
            settings.setdefault(key, value)
    assert settings["Type"] == "notify"
    assert settings["Restart"] == "on-failure"
    assert settings["WatchdogSec"] == "30s"
    assert settings["User"] == "firegw"
    assert settings["ProtectSystem"] == "strict"
    assert settings["StateDirectory"] == "firegw"
    assert settings["ExecStart"].startswith(f"{INSTALLED} run /etc/firegw/site.yaml")
