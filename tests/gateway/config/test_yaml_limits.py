"""Only plain YAML in a site file: bombs, deep nesting, odd bytes and odd types are refused
with `file:line: message`, quickly and in bounded memory, never with a traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_site
from tests.sites import CONFIG

SITE = (
    "site: {id: x, name: y}\n"
    "buildings: [{id: b, name: B}]\n"
    "zones: [{id: z, building: b, name: Z}]\n"
    f"profiles: [{CONFIG / 'profiles'}]\n"
)
"""A site with nothing in it, for a line or two more."""


def billion_laughs(levels: int = 9) -> str:
    """Nine lists of nine aliases of the previous list: 9**10 (3.5 billion) strings in 500
    bytes, after the few lines of a site."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        aliases = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return SITE + "\n".join(lines) + "\n"


def errors_of(file: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_site(file)
    return str(caught.value).splitlines()


def write(tmp_path: Path, text: str | bytes) -> Path:
    file = tmp_path / "site.yaml"
    if isinstance(text, bytes):
        file.write_bytes(text)
    else:
        file.write_text(text)
    return file


BOUNDED_CHECK = textwrap.dedent(
    """
    import resource, sys
    limit = 256 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from firegw.main import main
    sys.exit(main(["check", sys.argv[1]]))
    """
)


def test_an_alias_bomb_is_refused_at_once_in_bounded_memory(tmp_path: Path) -> None:
    """Before: `firegw check` on such a file grew to 3.6 GB in 43 s (here: MemoryError under
    the 256 MB limit after some seconds, a traceback). Now: refused at the first anchor."""
    bomb = write(tmp_path, billion_laughs())
    assert bomb.stat().st_size - len(SITE) < 700
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", BOUNDED_CHECK, str(bomb)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert time.monotonic() - started < 15  # the interpreter's start-up; the check is instant
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "site.yaml:5: YAML anchors and aliases (&a0, *a0) are not allowed in a site file: "
        "write the value out in each place it is used"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            SITE + "name: &n Ward\nother: *n\n",
            "site.yaml:5: YAML anchors and aliases (&n, *n) are not allowed in a site file: "
            "write the value out in each place it is used",
        ),
        (
            SITE + "devices: *nowhere\n",
            "site.yaml:5: YAML anchors and aliases (&nowhere, *nowhere) are not allowed in a "
            "site file: write the value out in each place it is used",
        ),
        (
            SITE + "deep: " + "[" * 5000 + "]" * 5000 + "\n",
            "site.yaml:5: nested more than 32 levels deep: not a site file",
        ),
        (
            SITE + "deep:\n" + "".join(f"{'  ' * n}k{n}:\n" for n in range(1, 40)),
            "site.yaml:36: nested more than 32 levels deep: not a site file",
        ),
        (SITE + "name: a\x00b\n", "site.yaml:5: character U+0000 is not allowed in a YAML file"),
        (
            SITE + "\n\nname: \x1b[31m\n",
            "site.yaml:7: character U+001B is not allowed in a YAML file",
        ),
        (
            SITE.replace("name: Z}", 'name: "Z\\0"}'),
            "site.yaml:3: zones[0].name: text cannot contain the control character U+0000",
        ),
        (
            SITE.replace("name: Z}", 'name: "\\e[2J Z"}'),
            "site.yaml:3: zones[0].name: text cannot contain the control character U+001B",
        ),
        (
            SITE.replace("name: Z}", 'name: "Z \\u202e"}'),
            "site.yaml:3: zones[0].name: text cannot contain the control character U+202E",
        ),
        (
            SITE + "defaults: {poll_interval: .inf}\n",
            "site.yaml:5: defaults.poll_interval: '.inf' is not a finite number",
        ),
        (
            SITE + "outbox: {alarm_fill: .nan}\n",
            "site.yaml:5: outbox.alarm_fill: '.nan' is not a finite number",
        ),
        (
            SITE + "defaults: {poll_interval: 1.0e+999}\n",
            "site.yaml:5: defaults.poll_interval: '1.0e+999' is not a finite number",
        ),
        (
            SITE + "defaults: {poll_interval: " + "9" * 400 + "h}\n",
            "site.yaml:5: defaults.poll_interval: expected a duration such as 10s or 2m, got "
            "'9999999999999999999999999999999999999999...'",
        ),
        (
            SITE + "defaults: {supervision_polls: " + "9" * 5000 + "}\n",
            "site.yaml:5: defaults.supervision_polls: cannot read '9999999999999999999999999999"
            "999999999999'... (5000 characters) as a whole number",
        ),
        (
            SITE.replace("name: y}", "name: !!binary eQ==}"),
            "site.yaml:1: site.name: the YAML tag !!binary is not used in a site file",
        ),
        (
            SITE + "devices: !!set {a, b}\n",
            "site.yaml:5: devices: the YAML tag !!set is not used in a site file",
        ),
        (
            SITE + "name: !!python/object:os.system ls\n",
            "site.yaml:5: name: the YAML tag !!python/object:os.system is not used in a site file",
        ),
        (
            SITE + "zones2:\n  ? [a, b]\n  : c\n",
            "site.yaml:6: zones2: a key must be a single value, not a list or mapping",
        ),
        (
            SITE.replace("site: {id: x, name: y}", 'site: {id: x, name: y, "a\\nb": 1}'),
            "site.yaml:1: site['a\\nb']: unknown key",
        ),
        (
            SITE.replace("site: {id: x, name: y}", "site: {id: x, name: y, 7: 1}"),
            "site.yaml:1: site[7]: unknown key",
        ),
        (
            b"site: {id: x, name: caf\xe9}\n",
            "site.yaml:1: not UTF-8 text: byte 0xe9 cannot be read as a character",
        ),
        ("- a\n- b\n", "site.yaml:1: expected a mapping (key: value, ...), got a list"),
        ("just text\n", "site.yaml:1: expected a mapping (key: value, ...), got 'just text'"),
    ],
)
def test_what_plain_yaml_does_not_say_is_refused_at_its_line(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    assert errors_of(write(tmp_path, text)) == [expected]


def test_a_date_stays_text(tmp_path: Path) -> None:
    """YAML 1.1 reads `2024-02-30` as a date, and raises on that one (a traceback before): a
    site file has no dates, so it is the text it looks like."""
    site = load_site(write(tmp_path, SITE.replace("name: y}", "name: 2024-02-30}")))
    assert site.config.site.name == "2024-02-30"


def test_an_empty_file_names_line_1_and_every_section_it_needs(tmp_path: Path) -> None:
    assert errors_of(write(tmp_path, "")) == [
        "site.yaml:1: site: required, but missing",
        "site.yaml:1: buildings: required, but missing",
        "site.yaml:1: zones: required, but missing",
        "site.yaml:1: profiles: required, but missing",
    ]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dev/zero", "site.yaml: cannot read: not a regular file (a device)"),
        (".", "site.yaml: cannot read: not a regular file (a folder)"),
    ],
)
def test_a_site_file_that_is_no_file_is_not_read(
    tmp_path: Path, target: str, expected: str
) -> None:
    """`/dev/zero` would be read for ever; a folder is refused before it is opened."""
    link = tmp_path / "site.yaml"
    link.symlink_to(target if target.startswith("/") else tmp_path)
    assert errors_of(link) == [expected]


def test_a_profile_that_is_a_device_is_not_read(tmp_path: Path) -> None:
    site = write(
        tmp_path, SITE.replace(f"profiles: [{CONFIG / 'profiles'}]", "profiles: [/dev/zero]")
    )
    assert errors_of(site) == ["site.yaml:4: profiles[0]: '/dev/zero' is a device"]


def test_a_file_larger_than_any_site_is_not_read(tmp_path: Path) -> None:
    huge = write(tmp_path, SITE + "# " + "x" * (4 * 1024 * 1024) + "\n")
    assert errors_of(huge) == ["site.yaml: cannot read: larger than 4 MB"]
