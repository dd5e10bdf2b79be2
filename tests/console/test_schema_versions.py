"""The console's journal and sessions have a schema version, and files written by the previous
layout (firegw 0.1.0, before versions were kept) are upgraded with what they hold."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from firegw.console.auth import Accounts, Sessions
from firegw.console.journal import Journal
from firegw.console.places import Places
from gateway.config import load_site
from gateway.sqlitefile import schema_version
from tests.console.test_words import add_passwords, password_of
from tests.sites import clinic_site

JOURNAL_0_1 = """
CREATE TABLE event (
    site TEXT NOT NULL, alarm_id TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL,
    by TEXT, zone TEXT, device TEXT, class TEXT, text TEXT NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (site, alarm_id, kind, at)
) WITHOUT ROWID;
CREATE INDEX event_at ON event (at);
"""

SESSIONS_0_1 = (
    "CREATE TABLE session (token_hash TEXT PRIMARY KEY, operator TEXT, "
    "sites TEXT, lang TEXT, csrf TEXT, expires REAL);"
)


async def test_a_journal_of_the_previous_layout_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    document = {"alarm_id": "fire:SD-1F-01", "kind": "raised", "at": time.time_ns(), "site": "demo"}
    db = sqlite3.connect(path)
    db.executescript(JOURNAL_0_1)
    with db:
        db.execute(
            "INSERT INTO event VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                "demo",
                "fire:SD-1F-01",
                "raised",
                document["at"],
                None,
                "main-1f-er",
                "SD-1F-01",
                "fire",
                "fire",
                json.dumps(document),
            ),
        )
    db.close()
    assert schema_version(path) == 0
    async with Journal(path) as journal:
        assert await journal.history("demo", "fire:SD-1F-01") == [document]
    assert schema_version(path) == 1


async def test_sessions_of_the_previous_layout_stay_logged_in(tmp_path: Path) -> None:
    site = load_site(add_passwords(clinic_site(tmp_path, mqtt_port=1883)))
    accounts = Accounts.for_places(list(Places([site]).sites.values()))
    person = await accounts.login("bo", password_of("bo"))
    assert person is not None
    path = tmp_path / "sessions.sqlite"
    db = sqlite3.connect(path)
    db.executescript(SESSIONS_0_1)
    db.close()
    sessions = Sessions(path, accounts)
    token, _ = sessions.create(person, "en")
    sessions.close()
    assert schema_version(path) == 1
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 0")  # as 0.1.0 left it, with a session in it
    db.close()
    again = Sessions(path, accounts)
    restored = again.get(token)
    assert restored is not None
    assert restored.person.id == "bo"
    again.close()
    assert schema_version(path) == 1
