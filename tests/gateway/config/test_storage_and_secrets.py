"""`firegw check` and the gateway at start check this machine: where the outbox goes, and every
secret the site names, read as the gateway reads it. The operators' commands do not."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_site
from gateway.config.values import SecretRef
from tests.sites import CONFIG

FIREGW = [sys.executable, "-m", "firegw"]


def site_with(folder: Path, section: str) -> Path:
    """A small site with `section` (YAML lines) after its profiles."""
    site = folder / "site.yaml"
    site.write_text(
        "site: {id: x, name: y}\n"
        "buildings: [{id: b, name: B}]\n"
        "zones: [{id: z, building: b, name: Z}]\n"
        f"profiles: [{CONFIG / 'profiles'}]\n"
        f"{section}\n"
    )
    return site


def errors_of(site: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_site(site)
    return str(caught.value).splitlines()


def user() -> str:
    return f"user {pwd.getpwuid(os.geteuid()).pw_name}"


@pytest.fixture
def unwritable_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot write: made read-only, or (as root, who may write any
    folder) a read-only mount such as a container's /proc/sys."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o500)
        yield folder
        folder.chmod(0o700)
        return
    for candidate in (Path("/proc/sys"), Path("/sys/kernel")):
        if candidate.is_dir() and not os.access(candidate, os.W_OK | os.X_OK):
            yield candidate
            return
    pytest.fail("as root this test needs a read-only folder such as a container's /proc/sys")


def test_an_outbox_at_the_root_is_no_file(tmp_path: Path) -> None:
    site = site_with(tmp_path, "outbox: {path: /}")
    assert errors_of(site) == [
        "site.yaml:5: outbox.path: give the path of a file, such as "
        "/var/lib/firegw/outbox.sqlite, not a folder (got '/')"
    ]


def test_an_outbox_on_a_device_or_a_folder_is_refused(tmp_path: Path) -> None:
    """Before: `check` said OK and `run` crashed with a traceback from SQLite."""
    assert errors_of(site_with(tmp_path, "outbox: {path: /dev/null}")) == [
        "site.yaml:5: outbox.path: the outbox '/dev/null' is a device: give the path of a file, "
        "such as /var/lib/firegw/outbox.sqlite"
    ]
    (tmp_path / "var").mkdir()
    assert errors_of(site_with(tmp_path, "outbox: {path: var}")) == [
        f"site.yaml:5: outbox.path: the outbox '{tmp_path / 'var'}' is a folder: give the path of "
        "a file, such as /var/lib/firegw/outbox.sqlite"
    ]


def test_the_files_beside_the_outbox_are_checked_too(tmp_path: Path) -> None:
    (tmp_path / "outbox-alarms.sqlite").mkdir()
    assert errors_of(site_with(tmp_path, "outbox: {path: outbox.sqlite}")) == [
        f"site.yaml:5: outbox.path: the alarm store '{tmp_path / 'outbox-alarms.sqlite'}' is a "
        "folder: give the path of a file, such as /var/lib/firegw/outbox.sqlite"
    ]


def test_an_outbox_in_a_folder_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be\n")
    site = site_with(tmp_path, "outbox: {path: blocker/db/outbox.sqlite}")
    assert errors_of(site) == [
        f"site.yaml:5: outbox.path: cannot create the folder '{tmp_path / 'blocker' / 'db'}': "
        f"'{tmp_path / 'blocker'}' is not a folder"
    ]


def test_an_outbox_in_a_folder_that_cannot_be_written_is_refused(
    tmp_path: Path, unwritable_folder: Path
) -> None:
    site = site_with(tmp_path, f"outbox: {{path: {unwritable_folder / 'firegw' / 'o.sqlite'}}}")
    assert errors_of(site) == [
        f"site.yaml:5: outbox.path: cannot create the folder '{unwritable_folder / 'firegw'}': "
        f"'{unwritable_folder}' cannot be written by {user()}"
    ]
    site = site_with(tmp_path, f"outbox: {{path: {unwritable_folder / 'o.sqlite'}}}")
    assert errors_of(site) == [
        f"site.yaml:5: outbox.path: the folder '{unwritable_folder}' cannot be written by {user()}"
        f": give it to that user (chown {os.geteuid()}:{os.getegid()} {unwritable_folder}) or "
        "set another outbox.path"
    ]


def test_a_missing_outbox_folder_that_can_be_made_is_fine(tmp_path: Path) -> None:
    site = load_site(site_with(tmp_path, "outbox: {path: var/lib/firegw/outbox.sqlite}"))
    assert site.outbox_path == tmp_path / "var/lib/firegw/outbox.sqlite"
    assert not (tmp_path / "var").exists()  # checked, not created


def secret(folder: Path, content: bytes = b"s3cret\n", mode: int = 0o600) -> Path:
    file = folder / "secret"
    file.write_bytes(content)
    file.chmod(mode)
    return file


def password_site(folder: Path, reference: str) -> Path:
    return site_with(folder, f"mqtt: {{username: firegw, password: {reference}}}")


@pytest.mark.parametrize(
    ("content", "mode", "problem"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", 0o600, "cannot read secret file '{file}': not UTF-8 text"),
        (b"", 0o600, "secret file '{file}' is empty"),
        (b"  \n", 0o600, "secret file '{file}' is empty"),
        (
            b"first\nsecond\n",
            0o600,
            "secret file '{file}' holds more than one line or a control character: a secret is "
            "one password or token",
        ),
        (
            b"s3cret\n",
            0o666,
            "secret file '{file}' can be changed by every user on this machine (mode 0666): "
            "chmod o-w it (0400 or 0600, owned by the gateway's user)",
        ),
        (b"x" * 70_000, 0o600, "cannot read secret file '{file}': larger than 65536 bytes"),
    ],
)
def test_a_secret_file_that_cannot_be_used_is_refused(
    tmp_path: Path, content: bytes, mode: int, problem: str
) -> None:
    """Before: `check` said OK; the binary file crashed `run` with a UnicodeDecodeError."""
    file = secret(tmp_path, content, mode)
    site = password_site(tmp_path, f"{{file: {file}}}")
    assert errors_of(site) == [f"site.yaml:5: mqtt.password: {problem.format(file=file)}"]


def test_a_missing_secret_file_or_a_folder_is_refused(tmp_path: Path) -> None:
    site = password_site(tmp_path, "{file: /run/secrets/nowhere}")
    assert errors_of(site) == [
        "site.yaml:5: mqtt.password: cannot read secret file '/run/secrets/nowhere': No such "
        "file or directory"
    ]
    site = password_site(tmp_path, f"{{file: {tmp_path}}}")
    assert errors_of(site) == [
        f"site.yaml:5: mqtt.password: cannot read secret file '{tmp_path}': not a regular file "
        "(a folder)"
    ]


def test_an_unset_or_empty_variable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `check` said OK when the variable holding the password was not set."""
    monkeypatch.delenv("FIREGW_TEST_PASSWORD", raising=False)
    site = password_site(tmp_path, "{env: FIREGW_TEST_PASSWORD}")
    assert errors_of(site) == [
        "site.yaml:5: mqtt.password: environment variable FIREGW_TEST_PASSWORD is not set"
    ]
    monkeypatch.setenv("FIREGW_TEST_PASSWORD", " ")
    assert errors_of(site) == [
        "site.yaml:5: mqtt.password: environment variable FIREGW_TEST_PASSWORD is empty"
    ]
    monkeypatch.setenv("FIREGW_TEST_PASSWORD", "s3cret")
    assert load_site(site).config.mqtt.password.reveal() == "s3cret"  # type: ignore[union-attr]


def test_every_secret_of_every_database_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIREGW_TEST_TOKEN", raising=False)
    site = site_with(
        tmp_path,
        "influxdb:\n"
        "  - {name: local, url: 'http://127.0.0.1:8086', database: f, username: u,\n"
        "     password: {file: missing-password}}\n"
        "  - {name: central, api: v2, url: 'https://db', org: o, bucket: b,\n"
        "     token: {env: FIREGW_TEST_TOKEN}}",
    )
    assert errors_of(site) == [
        f"site.yaml:7: influxdb[0].password: cannot read secret file "
        f"'{tmp_path / 'missing-password'}': No such file or directory",
        "site.yaml:9: influxdb[1].token: environment variable FIREGW_TEST_TOKEN is not set",
    ]


def test_tls_files_are_loaded_as_the_gateway_will_load_them(tmp_path: Path) -> None:
    """Before: `check` said OK and the gateway stopped at start on a missing CA file."""
    (tmp_path / "not-a-key.pem").write_text("not a key\n")
    site = site_with(
        tmp_path,
        "mqtt: {host: broker, tls: {ca_file: missing-ca.pem}}\n"
        "influxdb:\n"
        "  - {name: local, url: 'https://127.0.0.1:8086', database: f,\n"
        "     tls: {cert_file: not-a-key.pem, key_file: not-a-key.pem}}",
    )
    errors = errors_of(site)
    assert errors[0] == (
        f"site.yaml:5: mqtt.tls.ca_file: {tmp_path / 'missing-ca.pem'} is not a file"
    )
    key = tmp_path / "not-a-key.pem"
    assert errors[1] == (
        f"site.yaml:8: influxdb[0].tls.cert_file: cannot use {key} with {key}: not a PEM "
        "certificate and its private key"
    )
    assert len(errors) == 2


def test_a_secret_file_every_user_can_read_is_a_warning(tmp_path: Path) -> None:
    """A Docker or Kubernetes secret is mounted readable by all: said, not refused."""
    file = secret(tmp_path, mode=0o644)
    site = load_site(password_site(tmp_path, f"{{file: {file}}}"))
    assert [str(warning) for warning in site.warnings] == [
        f"site.yaml:5: warning: mqtt.password: secret file '{file}' can be read by every user on "
        "this machine (mode 0644): chmod o-r it unless it is a container's secret mount"
    ]


def test_reveal_refuses_what_check_refuses(tmp_path: Path) -> None:
    """The gateway reads its secrets at start through the same code: a binary file is a
    LookupError there (which `firegw run` reports with exit 2), not a UnicodeDecodeError."""
    file = secret(tmp_path, b"\xff\xfe\x00")
    with pytest.raises(LookupError, match="not UTF-8 text"):
        SecretRef(file=file).reveal()
    with pytest.raises(LookupError, match="is empty"):
        SecretRef(file=secret(tmp_path, b"\n")).reveal()


def test_the_operators_commands_do_not_check_this_machine(tmp_path: Path) -> None:
    """`firegw ack` from a guard's account needs neither the outbox nor the database token."""
    site = site_with(
        tmp_path,
        "outbox: {path: /dev/null}\n"
        "influxdb: {api: v2, url: 'https://db', org: o, bucket: b, token: {env: NOT_HERE_X}}",
    )
    assert load_site(site, storage_and_secrets=False).outbox_path == Path("/dev/null")


def firegw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FIREGW, *args], capture_output=True, text=True, timeout=60, check=False)


def test_check_and_run_refuse_it_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    site = site_with(tmp_path, "outbox: {path: /dev/null}")
    expected = [
        "site.yaml:5: outbox.path: the outbox '/dev/null' is a device: give the path of a file, "
        "such as /var/lib/firegw/outbox.sqlite"
    ]
    for command in ("check", "run"):
        result = firegw(command, str(site))
        assert (command, result.returncode, result.stderr.splitlines()) == (command, 2, expected)


def test_check_prints_a_warning_and_still_says_ok(tmp_path: Path) -> None:
    file = secret(tmp_path, mode=0o644)
    result = firegw("check", str(password_site(tmp_path, f"{{file: {file}}}")))
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        f"site.yaml:5: warning: mqtt.password: secret file '{file}' can be read by every user on "
        "this machine (mode 0644): chmod o-r it unless it is a container's secret mount"
    ]
    assert f"{tmp_path / 'site.yaml'}: OK" in result.stdout
