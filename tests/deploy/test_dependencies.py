"""The locked dependencies: complete, and installable on a Raspberry Pi (arm64) without a compiler.

`requirements.lock` is made by pip-compile (README, "Upgrading the dependencies") from
pyproject.toml's dependencies, every file pinned by its hash. A Pi 4 or 5 running 64-bit
Raspberry Pi OS (Debian bookworm, Python 3.11) must find, for every locked version, a wheel
for aarch64 and CPython 3.11 (or one for every platform), and the lock must carry its hash,
or `pip install --require-hashes` would refuse it or build from source. PyPI's index
says which files each version has (its simple index, PEP 691).
"""

from __future__ import annotations

import json
import re
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", re.MULTILINE)
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
"""PyPI's simple index as JSON (PEP 691): every file of every version, with its hash."""
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, tuple[str, set[str]]]:
    """name -> (version, sha256 hashes) from the lock."""
    text = LOCK.read_text()
    pins: dict[str, tuple[str, set[str]]] = {}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    for block in blocks:
        found = _PIN.search(block)
        if found:
            pins[canonical(found.group(1))] = (found.group(2), set(_HASH.findall(block)))
    return pins


def fits_a_pi(filename: str) -> bool:
    """A wheel pip would install on 64-bit Raspberry Pi OS with CPython 3.11."""
    if not filename.endswith(".whl"):
        return False
    python, abi, platform = filename[:-4].split("-")[-3:]
    if platform == "any":
        return True
    cpython = any(tag in ("cp311", "py3") for tag in python.split(".")) or "abi3" in abi
    return cpython and "aarch64" in platform and ("manylinux" in platform)


def test_the_lock_pins_every_dependency_of_the_project() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {
        canonical(re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0]) for spec in project["dependencies"]
    }
    pins = locked()
    assert wanted <= set(pins), f"not in requirements.lock: {sorted(wanted - set(pins))}"
    assert "amqtt" not in pins  # the demo's broker is not for production
    assert all(hashes for _, hashes in pins.values())


@pytest.mark.parametrize(("name", "version"), [(n, v) for n, (v, _) in sorted(locked().items())])
def test_every_locked_version_has_a_wheel_for_a_raspberry_pi(name: str, version: str) -> None:
    request = urllib.request.Request(
        f"https://pypi.org/simple/{name}/", headers={"Accept": SIMPLE_JSON}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        files = json.load(answer)["files"]
    fitting = {
        f["hashes"]["sha256"]: f["filename"]
        for f in files
        if fits_a_pi(f["filename"]) and f["filename"].split("-")[1] == version
    }
    assert fitting, f"{name} {version} has no aarch64 or pure-Python wheel on PyPI"
    _, hashes = locked()[name]
    assert set(fitting) & hashes, f"the lock lacks the hash of {sorted(fitting.values())}"
