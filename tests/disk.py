"""A real small filesystem for tests of a full disk: a tmpfs of a few MB mounted for the test.

Writes beyond it fail with ENOSPC exactly as on a full SD card, and SQLite answers with
SQLITE_FULL, so nothing of SQLite or the file system is mocked. Mounting needs root (or
CAP_SYS_ADMIN), which ./dev test and the CI have; without it the test fails with the reason,
it never skips.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest


class SmallDisk:
    """A tmpfs of `size_mb` MB at `path`. `fill` takes every free byte, `free` gives them back."""

    def __init__(self, path: Path, size_mb: int = 8) -> None:
        self.path = path
        self.size_mb = size_mb
        self.filler = path / "filler"
        self._mounted = False

    def __enter__(self) -> Self:
        self.path.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0700", "tmpfs", self.path],
            capture_output=True,
            text=True,
            check=False,
        )
        if mounted.returncode != 0:
            pytest.fail(
                f"cannot mount a {self.size_mb} MB tmpfs at {self.path} for a full-disk test "
                f"(needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}",
                pytrace=False,
            )
        self._mounted = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._mounted:
            subprocess.run(["umount", "-l", self.path], check=False)
            self._mounted = False

    def fill(self) -> int:
        """Write a filler file until the disk is full; returns the bytes it took."""
        written = 0
        with self.filler.open("ab") as file:
            for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9):
                with contextlib.suppress(OSError):
                    while True:
                        written += os.write(file.fileno(), b"\0" * chunk)
        if not self._full():
            raise AssertionError(f"{self.path} is not full after writing {written} bytes")
        return written

    def _full(self) -> bool:
        probe = self.path / "probe"
        try:
            with probe.open("wb") as file:
                file.write(b"\0" * 4096)
                file.flush()
                os.fsync(file.fileno())
        except OSError as error:
            return error.errno == errno.ENOSPC
        finally:
            with contextlib.suppress(FileNotFoundError):
                probe.unlink()
        return False

    def free(self) -> None:
        """Give the space back."""
        self.filler.unlink(missing_ok=True)
