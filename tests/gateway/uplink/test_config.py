"""The site file's `uplink:`: each mistake named by file, line and field before any I/O, the
key read as the gateway reads it, zones and points numbered as the centre will know them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import BROKER_LINK, ConfigError, Numbers, load_site
from gateway.config import uplink as uplink_config
from tests.gateway.uplink.sites import KEY, KEY_HEX, uplink_clinic

FIREGW = [sys.executable, "-m", "firegw"]


def errors_of(site: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_site(site)
    return str(caught.value).splitlines()


def line_of(site: Path, text: str) -> int:
    """The line of the uplink's setting `text`."""
    lines = site.read_text().splitlines()
    start = lines.index("uplink:")
    return next(n for n, line in enumerate(lines[start:], start + 1) if text in line)


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ("  accounts: {east: '999'}\n", "uplink.accounts.east", "unknown building 'east'"),
        ("  zones: {main-9f: 3}\n", "uplink.zones.main-9f", "unknown zone 'main-9f'"),
        ("  points: {SD-9: 3}\n", "uplink.points.SD-9", "unknown device or connection 'SD-9'"),
        ("  codes: {smoke: off}\n", "uplink.codes.smoke", "unknown rule 'smoke'; rules: "),
        (
            "  codes: {fire: {raised: [Fa, E110]}}\n",
            "uplink.codes.fire.raised[0]",
            "a SIA event code is two capital letters, such as FA (got 'Fa')",
        ),
        (
            "  codes: {fire: {raised: [FA, 110]}}\n",
            "uplink.codes.fire.raised[1]",
            "expected text",
        ),
        (
            "  codes: {fire: {raised: [FA, X110]}}\n",
            "uplink.codes.fire.raised[1]",
            "E (new event) or R (restore)",
        ),
        (
            "  points: {SD-1F-01: 2, HP-1F-01: 2}\n",
            "uplink.points.HP-1F-01",
            "'HP-1F-01' has number 2, as 'SD-1F-01' has",
        ),
        ("  zones: {main-1f-er: 100}\n", "uplink.zones.main-1f-er", "must be at most 99"),
        ("  protocol: udp\n  tls: {}\n", "uplink", "tls: is for protocol tcp"),
        ("  protocol: sctp\n", "uplink.protocol", "'tcp' or 'udp'"),
        ("  receiver_number: R1\n", "uplink.receiver_number", "1 to 6 hex digits"),
        ("  supervision: often\n", "uplink.supervision", "expected a duration"),
        ("  kinds: [sprinkler]\n", "uplink.kinds[0]", "sprinkler"),
        ("  key: secret\n", "uplink.key", "secrets are never written inline"),
    ],
    ids=lambda value: (
        value if isinstance(value, str) and "." in value and " " not in value else None
    ),
)
def test_a_mistake_is_named_by_its_line_and_field(
    tmp_path: Path, extra: str, field: str, message: str
) -> None:
    site = uplink_clinic(tmp_path, 12128, extra)
    errors = errors_of(site)
    assert len(errors) == 1, errors
    assert f": {field}: " in errors[0], errors
    assert message in errors[0], errors
    anchor = "uplink:" if field == "uplink" else extra.split(":", maxsplit=1)[0].strip()
    assert errors[0].startswith(f"site.yaml:{line_of(site, anchor)}:"), errors


def test_an_account_must_be_hex_digits(tmp_path: Path) -> None:
    site = uplink_clinic(tmp_path, 12128)
    site.write_text(site.read_text().replace('account: "1234"', 'account: "12G4"'))
    (error,) = errors_of(site)
    assert "uplink.account: " in error
    assert "an account is 3 to 16 hex digits (0-9, A-F) (got '12G4')" in error


@pytest.mark.parametrize(
    ("key", "key_format", "message"),
    [
        (
            "not a hex key at all",
            "hex",
            "with key_format hex the key is 32, 48 or 64 hex digits (0-9",
        ),
        (KEY, "hex", "with key_format hex the key is 32, 48 or 64 hex digits, not 16"),
        (KEY_HEX[:30], "hex", "with key_format hex the key is 32, 48 or 64 hex digits, not 30"),
        (KEY[:15], "text", "with key_format text the key is 16, 24 or 32 ASCII characters, not 15"),
    ],
)
def test_a_key_that_is_not_one_is_refused_without_showing_it(
    tmp_path: Path, key: str, key_format: str, message: str
) -> None:
    site = uplink_clinic(tmp_path, 12128, f"  key_format: {key_format}\n", key=key)
    (error,) = errors_of(site)
    assert f"uplink.key: {message}" in error
    assert key not in error


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    site = uplink_clinic(tmp_path, 12128, "  key: {file: nowhere.key}\n")
    errors = errors_of(site)
    assert any("uplink.key: cannot read secret file" in error for error in errors), errors


def test_firegw_check_accepts_a_good_uplink(tmp_path: Path) -> None:
    site = uplink_clinic(tmp_path, 12128, "  key_format: text\n", key=KEY)
    done = subprocess.run(
        [*FIREGW, "check", str(site)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_zones_and_points_are_numbered_per_account_skipping_those_given(tmp_path: Path) -> None:
    extra = "  accounts: {main: '5678'}\n  zones: {main-2f-ward: 1}\n  points: {HP-1F-01: 2}\n"
    site = load_site(uplink_clinic(tmp_path, 12128, extra), storage_and_secrets=False)
    assert site.config.uplink is not None
    numbers = Numbers.of(site.config.uplink, site.config)
    assert site.config.uplink.account_of("main") == "5678"
    assert dict(numbers.zones) == {"main-1f-er": 2, "main-2f-ward": 1, "main-b1-plant": 3}
    assert list(numbers.points.items())[:7] == [
        ("SD-1F-01", 1),
        ("SD-1F-02", 3),
        ("SD-2F-01", 4),
        ("SD-2F-02", 5),
        ("SD-B1-01", 6),
        ("HP-1F-01", 2),
        ("HP-2F-01", 7),
    ]
    assert dict(numbers.links) == {"main-panel": 1, "main-io": 2, BROKER_LINK: 3}


def test_the_uplink_names_the_broker_link_as_the_site_does() -> None:
    assert uplink_config.BROKER_LINK == BROKER_LINK
