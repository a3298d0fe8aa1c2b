"""Server-side logins: a login cookie is good only while its id is in this registry.

The cookie itself is signed (Flask), so it cannot be forged, but a signature alone cannot be taken
back: a copied cookie would work until it expired, across a logout, a restart or a PIN change. So
each login gets a random id, kept here and in ``logins.sqlite`` beside the session database (a
restart keeps the logins); logging out removes that id, "log out everywhere" removes them all, and
a login made under another PIN (its ``pin_tag``) is dropped when the registry opens.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LOGINS_FILE = "logins.sqlite"
MAX_LOGINS = 1000  # the oldest go first beyond this (each login is a tablet or a browser)


def pin_tag(pin_hash: str | None) -> str:
    """A short fingerprint of the configured PIN hash: logins made under another PIN are void."""
    return hashlib.sha256((pin_hash or "").encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Login:
    id: str
    created: float
    expires: float
    address: str
    agent: str


class LoginRegistry:
    """The open logins, in memory and (``path`` given) persisted in SQLite, write-through."""

    def __init__(
        self, path: Path | None, tag: str, hours: float = 12.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.tag, self.hours, self.clock = tag, hours, clock
        self._lock = threading.Lock()
        self._logins: dict[str, Login] = {}
        self._db = _open(path) if path is not None else None
        if self._db is not None:
            self._load()

    def open(self, address: str, agent: str) -> str:
        """A new login's id (for the cookie)."""
        now = self.clock()
        login = Login(secrets.token_urlsafe(24), now, now + self.hours * 3600, address[:64], agent[:200])
        with self._lock:
            self._logins[login.id] = login
            self._prune(now)
            self._write("INSERT INTO logins VALUES (?, ?, ?, ?, ?, ?)", (login.id, self.tag, login.created,
                        login.expires, login.address, login.agent))  # fmt: skip
        return login.id

    def valid(self, login_id: object) -> bool:
        if not isinstance(login_id, str):
            return False
        login = self._logins.get(login_id)
        return login is not None and login.expires > self.clock()

    def end(self, login_id: object) -> None:
        """Log one login out (unknown ids are ignored)."""
        if not isinstance(login_id, str):
            return
        with self._lock:
            if self._logins.pop(login_id, None) is not None:
                self._write("DELETE FROM logins WHERE id = ?", (login_id,))

    def end_all(self) -> int:
        """Log every login out ("log out everywhere"); how many there were."""
        with self._lock:
            count = len(self._logins)
            self._logins.clear()
            self._write("DELETE FROM logins", ())
        return count

    def open_logins(self) -> list[Login]:
        now = self.clock()
        return sorted((v for v in self._logins.values() if v.expires > now), key=lambda v: v.created)

    def _load(self) -> None:
        assert self._db is not None
        now = self.clock()
        rows = self._db.execute("SELECT id, pin_tag, created, expires, address, agent FROM logins").fetchall()
        stale = [r for r in rows if r[1] != self.tag]
        for row in rows:
            if row[1] == self.tag and row[3] > now:
                self._logins[row[0]] = Login(row[0], row[2], row[3], row[4], row[5])
        if stale:
            log.info("%d login(s) ended: the device PIN changed since they were made", len(stale))
        self._write("DELETE FROM logins WHERE pin_tag != ? OR expires <= ?", (self.tag, now))

    def _prune(self, now: float) -> None:
        expired = [k for k, v in self._logins.items() if v.expires <= now]
        oldest = sorted(self._logins, key=lambda k: self._logins[k].created)
        for key in {*expired, *oldest[: max(0, len(oldest) - MAX_LOGINS)]}:
            del self._logins[key]
        if expired:
            self._write("DELETE FROM logins WHERE expires <= ?", (now,))

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        if self._db is None:
            return
        try:
            self._db.execute(sql, args)  # autocommit: each change is on disk when this returns
        except sqlite3.Error as exc:
            # In memory the change holds; only a restart could bring back a login this failed to remove.
            log.error("could not save a login change to %s (%s); it holds until the service restarts", LOGINS_FILE, exc)


def _open(path: Path) -> sqlite3.Connection | None:
    """The registry's database, or None (memory only, logged) when it cannot be used."""
    try:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        with closing(db.execute("PRAGMA journal_mode=WAL")):
            pass
        db.execute(
            "CREATE TABLE IF NOT EXISTS logins (id TEXT PRIMARY KEY, pin_tag TEXT NOT NULL, created REAL NOT NULL,"
            " expires REAL NOT NULL, address TEXT NOT NULL, agent TEXT NOT NULL)"
        )
        path.chmod(0o600)
        return db
    except (sqlite3.Error, OSError) as exc:
        log.warning("cannot use %s (%s): logins are kept in memory and end at a restart", path, exc)
        return None
