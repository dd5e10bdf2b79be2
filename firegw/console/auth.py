"""Who is at the console: operators' passwords, their sessions, and the login rate limit.

- A password is checked against the scrypt hash the site file names (`password:` of an
  operator, made by `firegw password-hash`); the console never stores or logs a password.
- An operator may be in several site files (a campus): a login is good for every site whose
  file lists them with a hash the same password matches, each with that site's role.
- A session is a random token in an HttpOnly, SameSite=Strict cookie; the console keeps only
  its SHA-256 (in `sessions.sqlite` of the state folder, so a console restart logs nobody
  out), with the person, their language and the CSRF token every action must carry.
- Failed logins are limited per address: after 5 within 5 minutes, that address waits.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import sqlite3
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from firegw.console.places import Place
from gateway import Schema
from gateway.config import Role
from rules import Action

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
"""16 MB and about 50 ms a check on a small box: slow for a guesser, quick for a guard."""
_SCHEME = "scrypt"
SESSION_IDLE = 12 * 3600.0
"""Seconds a session lives without use: longer than a shift; an open board keeps it alive."""
FAILURES, FAILURE_WINDOW = 5, 300.0


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash` (base64), for an operator's `password:` file."""
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        (_SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest))
    )


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches the hash; raises `ValueError` for a malformed hash."""
    n, r, p, salt, expected = parse_hash(encoded)
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), expected)


def parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """The parameters, salt and digest of a hash; raises `ValueError` if it is not one."""
    parts = encoded.strip().split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        raise ValueError("not a password hash from `firegw password-hash` (scrypt$N$r$p$...)")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise ValueError("a malformed scrypt hash") from None
    if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16) or len(expected) != 32:
        raise ValueError("scrypt parameters out of range")
    return n, r, p, salt, expected


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n * 2, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


@dataclass(frozen=True, slots=True)
class Grant:
    """What one person may do at one site: their role there, and the key their commands to
    that site's gateway are signed with."""

    site: str
    role: str
    permissions: Role
    key: str = field(repr=False)

    def actions(self) -> list[str]:
        return [str(action) for action in self.permissions.may]


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    grants: dict[str, Grant]

    def may(self, site: str, action: Action | str) -> bool:
        grant = self.grants.get(site)
        return grant is not None and Action(action) in grant.permissions.may


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    grant: Grant
    hash: str = field(repr=False)


class Accounts:
    """The operators of every site with a console password, read at start-up."""

    def __init__(self, entries: dict[str, list[_Entry]]) -> None:
        self._entries = entries
        self._checking = asyncio.Semaphore(2)
        self._dummy = hash_password(secrets.token_urlsafe(12))

    @classmethod
    def for_places(cls, places: Sequence[Place]) -> Accounts:
        """Raises `LookupError` naming the operator whose key or password cannot be read."""
        entries: dict[str, list[_Entry]] = {}
        for place in places:
            config = place.site.config
            for operator in config.operators:
                if operator.password is None:
                    continue
                where = f"site {place.id}, operator {operator.id}"
                try:
                    key, hashed = operator.key.reveal(), operator.password.reveal()
                except LookupError as error:
                    raise LookupError(f"{where}: {error}") from None
                try:
                    parse_hash(hashed)
                except ValueError as error:
                    raise LookupError(f"{where}: password: {error}") from None
                grant = Grant(place.id, operator.role, config.roles[operator.role], key)
                entries.setdefault(operator.id, []).append(_Entry(operator.name, grant, hashed))
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    async def login(self, operator: str, password: str) -> Person | None:
        """The person, with the sites the password is good for; None if it is good for none.

        An unknown operator costs as long as a known one, so the time does not tell which
        ids exist.
        """
        entries = self._entries.get(operator, [])
        async with self._checking:
            if not entries:
                await asyncio.to_thread(verify_password, password, self._dummy)
                return None
            good = [
                entry
                for entry in entries
                if await asyncio.to_thread(verify_password, password, entry.hash)
            ]
        if not good:
            return None
        return Person(operator, good[0].name, {entry.grant.site: entry.grant for entry in good})

    def person(self, operator: str, sites: Sequence[str]) -> Person | None:
        """The person of a session again (after a console restart), with the sites their
        login was good for."""
        entries = [e for e in self._entries.get(operator, []) if e.grant.site in sites]
        if not entries:
            return None
        return Person(operator, entries[0].name, {e.grant.site: e.grant for e in entries})


@dataclass(slots=True)
class Session:
    token_hash: str
    person: Person
    lang: str
    csrf: str
    expires: float


SESSIONS_SCHEMA = Schema(
    "console sessions",
    1,
    "CREATE TABLE IF NOT EXISTS session (token_hash TEXT PRIMARY KEY, operator TEXT, "
    "sites TEXT, lang TEXT, csrf TEXT, expires REAL);",
)
"""The sessions' layout, version 1 (CHANGELOG.md says what each version changed)."""


class Sessions:
    """Sessions by token, kept in memory and in `path` (None: memory only)."""

    def __init__(self, path: Path | None, accounts: Accounts) -> None:
        self.accounts = accounts
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path or ":memory:"), isolation_level=None)
        fresh = not self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        SESSIONS_SCHEMA.apply(self._db, path or ":memory:", fresh=fresh)
        self._db.isolation_level = (
            "DEFERRED"  # Python's implicit transactions, as the writes expect
        )
        self._db.execute("DELETE FROM session WHERE expires < ?", (time.time(),))
        self._db.commit()
        self._cache: dict[str, Session] = {}

    def close(self) -> None:
        self._db.close()

    def create(self, person: Person, lang: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(
            _digest(token), person, lang, secrets.token_urlsafe(24), time.time() + SESSION_IDLE
        )
        self._cache[session.token_hash] = session
        with self._db:
            self._db.execute(
                "INSERT INTO session VALUES (?,?,?,?,?,?)",
                (
                    session.token_hash,
                    person.id,
                    ",".join(person.grants),
                    lang,
                    session.csrf,
                    session.expires,
                ),
            )
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie's token, its life extended; None if there is none."""
        if not token or len(token) > 100:
            return None
        digest = _digest(token)
        session = self._cache.get(digest) or self._load(digest)
        now = time.time()
        if session is None or session.expires < now:
            if session is not None:
                self.delete(token)
            return None
        if session.expires - now < SESSION_IDLE - 300:  # written at most every 5 minutes
            session.expires = now + SESSION_IDLE
            with self._db:
                self._db.execute(
                    "UPDATE session SET expires = ? WHERE token_hash = ?", (session.expires, digest)
                )
        return session

    def _load(self, digest: str) -> Session | None:
        row = self._db.execute(
            "SELECT operator, sites, lang, csrf, expires FROM session WHERE token_hash = ?",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        person = self.accounts.person(row[0], row[1].split(","))
        if person is None:  # no longer an operator with a password
            return None
        session = Session(digest, person, row[2], row[3], row[4])
        self._cache[digest] = session
        return session

    def set_language(self, session: Session, lang: str) -> None:
        session.lang = lang
        with self._db:
            self._db.execute(
                "UPDATE session SET lang = ? WHERE token_hash = ?", (lang, session.token_hash)
            )

    def delete(self, token: str) -> None:
        digest = _digest(token)
        self._cache.pop(digest, None)
        with self._db:
            self._db.execute("DELETE FROM session WHERE token_hash = ?", (digest,))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LoginLimit:
    """At most `FAILURES` failed logins per address within `FAILURE_WINDOW` seconds."""

    def __init__(self, failures: int = FAILURES, window: float = FAILURE_WINDOW) -> None:
        self.failures, self.window = failures, window
        self._failed: dict[str, deque[float]] = {}

    def wait(self, address: str) -> float:
        """Seconds this address must wait before it may try again (0: it may now)."""
        now = time.monotonic()
        failed = self._failed.get(address)
        if failed is None:
            return 0.0
        while failed and failed[0] < now - self.window:
            failed.popleft()
        if not failed:
            del self._failed[address]
            return 0.0
        if len(failed) < self.failures:
            return 0.0
        return failed[0] + self.window - now

    def failed(self, address: str) -> None:
        if len(self._failed) > 100_000:  # a flood of addresses: forget the oldest
            self._failed.pop(next(iter(self._failed)))
        self._failed.setdefault(address, deque()).append(time.monotonic())

    def succeeded(self, address: str) -> None:
        self._failed.pop(address, None)
