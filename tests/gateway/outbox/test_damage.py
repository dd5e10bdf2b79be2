"""A damaged, emptied or deleted outbox file, and its permissions, against real SQLite files.

The outbox never stops the gateway: a file that is not a database (garbage, a garbage header)
is moved aside as `<name>.corrupt-<UTC time>` and replaced by a fresh one, on opening or while
open; a file deleted while open is noticed by `check` and replaced. Every file is 0600.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import stat
from pathlib import Path

import pytest

from gateway.alarms import AlarmStore
from gateway.health import RejectedPayloads
from gateway.outbox import Outbox, OutboxWriter
from gateway.outbox.store import lines_in_file
from gateway.sqlitefile import HEADER, KEEP_DAMAGED

_CORRUPT = re.compile(r"outbox\.sqlite\.corrupt-\d{8}T\d{6}Z(-\d+)?")


def lines(count: int, start: int = 0) -> list[str]:
    return [f"m,device=d{i % 7} v={i}i {i}" for i in range(start, start + count)]


async def a_full_outbox(path: Path, count: int = 20_000) -> None:
    """An outbox with `count` lines, closed: several MB of real pages on disk."""
    async with Outbox(path) as outbox:
        await outbox.append(lines(count))


def copies(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if _CORRUPT.fullmatch(p.name))


def garbage(path: Path, *, header_only: bool = False) -> bytes:
    """Overwrite the file with random bytes (or only its first 100, the SQLite header)."""
    size = 100 if header_only else max(path.stat().st_size, 4096)
    data = os.urandom(size)
    with path.open("r+b" if path.exists() else "wb") as file:
        file.write(data)
    return data


@pytest.mark.parametrize("header_only", [False, True], ids=["garbage file", "garbage header"])
async def test_a_damaged_file_is_moved_aside_and_a_fresh_one_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, header_only: bool
) -> None:
    path = tmp_path / "outbox.sqlite"
    await a_full_outbox(path)
    written = garbage(path, header_only=header_only)
    caplog.set_level(logging.INFO)
    async with Outbox(path) as outbox:
        await outbox.append(lines(3))
        assert [line for _, line in await outbox.peek(10)] == lines(3)
        (replacement,) = outbox.replacements
    (kept,) = copies(tmp_path)
    assert kept.read_bytes().startswith(written[:100])
    assert replacement.kept_as == kept
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    reason = "file is not a database"
    assert errors == [
        f"outbox {path}: damaged ({reason}); kept as {kept}; a fresh file takes its place"
    ]


async def test_a_file_of_garbage_that_was_never_a_database_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(os.urandom(10_000))
    async with Outbox(path) as outbox:
        await outbox.append(lines(2))
        assert await outbox.backlog() == 2
    assert len(copies(tmp_path)) == 1


async def test_damage_found_while_open_replaces_the_file_and_the_call_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Pages SQLite must read from disk are garbage: the next call meets the damage."""
    path = tmp_path / "outbox.sqlite"
    caplog.set_level(logging.ERROR)
    async with Outbox(path) as outbox:
        await outbox.append(lines(20_000))
        with sqlite3.connect(path) as db:  # every page into the file, none left in the WAL
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        reader = outbox.reader("influxdb")
        first = await reader.peek(10)
        garbage(path)
        assert await outbox.dead_letters() == 0  # a read that meets the garbage, then fresh
        assert len(outbox.replacements) == 1
        assert outbox.lost == 20_000
        assert await outbox.backlog() == 0
        # The sink delivered rows of the old file: that moves nothing in the new one.
        assert await reader.advance(first[-1][0]) == 0
        await outbox.append(lines(2))
        assert [line for _, line in await reader.peek(10)] == lines(2)
    assert len(copies(tmp_path)) == 1
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"outbox {path}: damaged (database disk image is malformed)")
    assert message.endswith(
        "a fresh file takes its place (20000 lines waiting for delivery are lost with it)"
    )


async def test_a_garbage_header_written_while_open_is_found_by_check(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    async with Outbox(path) as outbox:
        await outbox.append(lines(100))
        assert await outbox.check() is None
        garbage(path, header_only=True)
        replacement = await outbox.check()
        assert replacement is not None
        assert replacement.reason.startswith("damaged (its header is b")  # repr: b'..' or b".."
        await outbox.append(lines(1))
        assert await outbox.backlog() == 1
    with path.open("rb") as file:
        assert file.read(16) == HEADER


async def test_a_file_deleted_while_open_is_noticed_and_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.sqlite"
    caplog.set_level(logging.ERROR)
    async with Outbox(path) as outbox:
        writer = OutboxWriter(outbox)
        for line in lines(50):
            writer.put_nowait(line)
        await writer.flush()
        path.unlink()
        assert await outbox.append(lines(1)) is None  # SQLite itself does not notice
        replacement = await outbox.check()
        assert replacement is not None
        assert (replacement.reason, replacement.kept_as) == ("deleted while the gateway ran", None)
        assert path.exists()
        for line in lines(3, start=50):
            writer.put_nowait(line)
        await writer.flush()
        assert [line for _, line in await outbox.peek(10)] == lines(3, start=50)
        assert await outbox.check() is None
    assert [r.getMessage() for r in caplog.records] == [
        f"outbox {path}: deleted while the gateway ran; a fresh file takes its place "
        "(51 lines waiting for delivery are lost with it)"
    ]
    assert len(lines_in_file(path)) == 3


async def test_a_file_emptied_while_open_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    async with Outbox(path) as outbox:
        await outbox.append(lines(10))
        os.truncate(path, 0)
        replacement = await outbox.check()
        assert replacement is not None
        assert replacement.reason == "emptied while the gateway ran"
        await outbox.append(lines(1))
        assert await outbox.backlog() == 1


async def test_only_the_newest_damaged_copies_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    for _ in range(KEEP_DAMAGED + 2):
        path.write_bytes(os.urandom(5000))
        async with Outbox(path):
            pass
    assert len(copies(tmp_path)) == KEEP_DAMAGED


def listing(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_every_store_and_its_wal_and_shm_are_for_the_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which would make them 0644
    try:
        async with (
            Outbox(tmp_path / "outbox.sqlite") as outbox,
            AlarmStore(tmp_path / "alarms.sqlite") as store,
            RejectedPayloads(tmp_path / "rejected.sqlite") as rejected,
        ):
            await outbox.append(lines(10))
            await store.record([])
            await rejected.flush()
            files = listing(tmp_path)
            assert {f.name for f in files} >= {
                f"{name}.sqlite{suffix}"
                for name in ("outbox", "alarms", "rejected")
                for suffix in ("", "-wal", "-shm")
            }
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        os.umask(old)


async def test_a_store_made_with_wider_permissions_is_narrowed_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    path.chmod(0o644)
    async with Outbox(path):
        assert mode(path) == 0o600
