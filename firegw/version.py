"""The installed firegw's version, from its package metadata (pyproject.toml's `version`)."""

from __future__ import annotations

from importlib import metadata


def version() -> str:
    """`0.1.0`, or `unknown` for a source tree that was never installed."""
    try:
        return metadata.version("firegw")
    except metadata.PackageNotFoundError:
        return "unknown"
