"""The demo clinic with an uplink to a test's receiver."""

from __future__ import annotations

from pathlib import Path

from tests.sites import clinic_site

KEY = "0123456789ABCDEF"
"""An AES-128 key as pysiaalarm takes it: 16 characters (the uplink's `key_format: text`)."""
KEY_HEX = KEY.encode("ascii").hex().upper()
"""The same key as DC-09 writes it: its 16 bytes in 32 hex digits (`key_format: hex`)."""
ACCOUNT = "1234"


def with_uplink(site_file: Path, port: int, extra: str = "", *, key: str | None = None) -> Path:
    """Add an `uplink:` to `site_file` towards 127.0.0.1:`port`; `extra` is more of its
    settings as YAML lines (indented by two); `key` is written to a 0600 file it names."""
    lines = [
        "uplink:",
        "  host: 127.0.0.1",
        f"  port: {port}",
        f'  account: "{ACCOUNT}"',
        "  ack_timeout: 2s",
    ]
    if key is not None:
        key_file = site_file.parent / "uplink.key"
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
        lines.append(f"  key: {{file: {key_file}}}")
    text = site_file.read_text().rstrip("\n") + "\n" + "\n".join(lines) + "\n" + extra
    site_file.write_text(text)
    return site_file


def uplink_clinic(folder: Path, port: int, extra: str = "", **options: object) -> Path:
    """The clinic (broker port 1883 unless `mqtt_port` is given) with an uplink."""
    mqtt_port = int(str(options.pop("mqtt_port", 1883)))
    key = options.pop("key", None)
    site = clinic_site(folder, mqtt_port=mqtt_port, **options)  # type: ignore[arg-type]
    return with_uplink(site, port, extra, key=key if isinstance(key, str) else None)
