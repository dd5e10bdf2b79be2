"""The test sites' operators: a key file each, and commands signed as a person's client does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.operators import new_key, sign

ROLES = {
    "security.office": "supervisor",
    "al": "supervisor",
    "bo": "guard",
    "night.nurse": "guard",
    "guard.7": "guard",
}
"""Operator id -> role (the default roles: guard and supervisor)."""


def operators_yaml(folder: Path) -> str:
    """An `operators:` section for `ROLES`, each key in its own 0600 file under `folder`."""
    keys = folder / "operators"
    keys.mkdir(parents=True, exist_ok=True)
    lines = ["operators:"]
    for operator, role in ROLES.items():
        path = keys / f"{operator}.key"
        path.write_text(new_key() + "\n")
        path.chmod(0o600)
        lines.append(
            f"  - {{id: {operator}, name: {operator}, role: {role}, key: {{file: {path}}}}}"
        )
    return "\n".join(lines) + "\n"


def key_file(site_file: Path, operator: str) -> Path:
    return site_file.parent / "operators" / f"{operator}.key"


def signed(site_file: Path, document: dict[str, Any], *, key_of: str | None = None) -> bytes:
    """`document` signed with the key of its `by` (or of `key_of`), as JSON bytes."""
    key = key_file(site_file, key_of or str(document["by"])).read_text().strip()
    return json.dumps(sign(document, key)).encode()
