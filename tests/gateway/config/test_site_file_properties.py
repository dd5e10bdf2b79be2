"""Property tests: whatever a site file or profile becomes, `firegw check` answers in its own
words, `file:line: field: message` and exit 2, or OK; never a traceback.

The reference site (`config/hospital.yaml`), the demo site and the profiles are mutated the
ways files get damaged or mistyped: bits flipped, bytes deleted or inserted, random Unicode
text, NUL and control characters, YAML punctuation (anchors, aliases, tags, complex keys) and
nesting thousands of levels deep. Before these fixes, 98 of 2,000 such files crashed `check`
(RecursionError, UnicodeDecodeError, ReaderError on a NUL, TypeError on a list as a key,
ValueError on `2024-02-30`) and about 130 gave pydantic's wording without a field or a line.

The loader runs in-process for speed; a few examples go through `python -m firegw check`.
Example counts are fixed and derandomized so that CI time stays bounded and a failure repeats.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.config import ConfigError, load_site
from tests.sites import CONFIG

LINE = re.compile(r"^[^:\n]+:\d+: \S")
"""`file:line: ...`: every problem names its file and line."""
CANNOT_READ = re.compile(r"^[^:\n]+: cannot read: \S")
"""The one documented form without a line: a file that cannot be read at all."""
PYDANTIC = re.compile(
    r"Input should|String should|Tuple should|List should|Dictionary should|instance of|"
    r"Value error|Unable to|validation error|Field required|Extra inputs|Keys should|type="
)
"""Pydantic's wording, which must not reach the person reading `check`."""

DEMO_EXAMPLES = 150
HOSPITAL_EXAMPLES = 30
PROFILE_EXAMPLES = 100
COMMAND_EXAMPLES = 4
PROFILES = sorted(path.name for path in (CONFIG / "profiles").glob("*.yaml"))


def examples(count: int) -> settings:
    return settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder with the profiles, reused by every example (each rewrites its files)."""
    here = tmp_path_factory.mktemp("mutated")
    shutil.copytree(CONFIG / "profiles", here / "profiles")
    return here


FRAGMENTS = st.sampled_from(
    [
        b"\x00",
        b"\x1b[2J",
        b"\xff\xfe",
        b"\xe9",
        b"&a ",
        b"*a",
        b"<<: *a\n",
        b"!!binary ",
        b"!!python/object:os.system ",
        b"!!set ",
        b"? [a, b]\n: c\n",
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b"- ",
        b"\n  - ",
        b"'",
        b'"',
        b'"\\0"',
        b'"\\e"',
        b"~",
        b".nan",
        b".inf",
        b"1.0e+999",
        b"9" * 5000,
        b"2024-02-30",
        b"yes",
        b"0x1F",
        b"\t",
        b"\r",
        b"\xef\xbb\xbf",
    ]
)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` with one to four mutations at random places."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "delete", "bytes", "fragment", "text", "deep"]))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "bytes":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "fragment":
            data[at:at] = draw(FRAGMENTS)
        elif kind == "text":
            data[at:at] = draw(st.text(min_size=1, max_size=8)).encode("utf-8", "surrogatepass")
        else:
            opener = draw(st.sampled_from([b"[", b"{a: ", b"- ", b"\n "]))
            data[at:at] = opener * draw(st.integers(30, 3000))
    return bytes(data)


def check_in_process(site: Path) -> list[str]:
    """What `firegw check` prints to stderr for `site`: warnings, or every problem."""
    try:
        loaded = load_site(site)
    except ConfigError as error:
        refused = error
    else:
        return [str(warning) for warning in loaded.warnings]
    lines = str(refused).splitlines()
    assert len(lines) == len(refused.issues), "an issue spans more than one line"
    assert lines, "a ConfigError without a problem"
    return lines


def assert_own_words(lines: list[str]) -> None:
    for line in lines:
        assert LINE.match(line) or CANNOT_READ.match(line), f"not file:line: {line!r}"
        assert not PYDANTIC.search(line), f"pydantic's wording: {line!r}"
        assert line.isprintable(), f"a control character reaches the terminal: {line!r}"


def site_in(folder: Path, data: bytes) -> Path:
    site = folder / "site.yaml"
    site.write_bytes(data)
    return site


@examples(DEMO_EXAMPLES)
@given(data=mutated((CONFIG / "demo.yaml").read_bytes()))
def test_a_mutated_demo_site_is_checked_in_plain_words(folder: Path, data: bytes) -> None:
    assert_own_words(check_in_process(site_in(folder, data)))


@examples(HOSPITAL_EXAMPLES)
@given(data=mutated((CONFIG / "hospital.yaml").read_bytes()))
def test_a_mutated_reference_site_is_checked_in_plain_words(folder: Path, data: bytes) -> None:
    assert_own_words(check_in_process(site_in(folder, data)))


@examples(PROFILE_EXAMPLES)
@given(profile=st.sampled_from(PROFILES), data=st.data())
def test_a_mutated_profile_is_checked_in_plain_words(
    folder: Path, profile: str, data: st.DataObject
) -> None:
    original = (CONFIG / "profiles" / profile).read_bytes()
    (folder / "profiles" / profile).write_bytes(data.draw(mutated(original)))
    try:
        site = site_in(folder, (CONFIG / "demo.yaml").read_bytes())
        assert_own_words(check_in_process(site))
    finally:
        (folder / "profiles" / profile).write_bytes(original)


@examples(COMMAND_EXAMPLES)
@given(data=mutated((CONFIG / "demo.yaml").read_bytes()))
def test_the_check_command_exits_0_or_2_without_a_traceback(folder: Path, data: bytes) -> None:
    site = site_in(folder, data)
    result = subprocess.run(
        [sys.executable, "-m", "firegw", "check", str(site)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    assert_own_words(result.stderr.splitlines())
