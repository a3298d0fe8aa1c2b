"""Read-only device tokens: what the gym's hub uses to pull finished sessions into its archive.

A token is 32 random bytes shown once when it is made (`hipcam token add NAME`); the device keeps
only its SHA-256 (a token has the entropy a hash needs no salt or stretching for), in
``tokens.sqlite`` beside the session database. It is read on every request that carries one, so a
token made or revoked with the command works at once, without a restart. A token can never act: the
web accepts it on the read routes of sessions and their exports only (web_ui.security).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from hipcam.errors import HipcamError

TOKENS_FILE = "tokens.sqlite"
PREFIX = "hct_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}")


class TokenError(HipcamError):
    """A token name that is not valid, taken, or unknown; or the token file cannot be used."""


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created: float
    last_used: float | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class TokenRegistry:
    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, name: str) -> str:
        """Make a token called ``name``; the token (shown once: only its hash is kept)."""
        if not _NAME.fullmatch(name):
            raise TokenError("a token name is 1-40 letters, digits, '.', '-' or '_' (e.g. hub)")
        token = PREFIX + secrets.token_urlsafe(32)
        try:
            with self._db(create=True) as db:
                db.execute("INSERT INTO tokens VALUES (?, ?, ?, NULL)", (name, _digest(token), time.time()))
        except sqlite3.IntegrityError:
            raise TokenError(f"a token called {name!r} exists; revoke it first (hipcam token revoke {name})") from None
        return token

    def revoke(self, name: str) -> bool:
        if not self.path.exists():
            return False
        with self._db() as db:
            return db.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount > 0

    def list(self) -> list[TokenInfo]:
        if not self.path.exists():
            return []
        with self._db() as db:
            rows = db.execute("SELECT name, created, last_used FROM tokens ORDER BY created").fetchall()
        return [TokenInfo(*row) for row in rows]

    def check(self, token: str) -> str | None:
        """The name of the token ``token`` if it is a live one, else None (never raises)."""
        if not token.startswith(PREFIX) or len(token) > 100 or not self.path.exists():
            return None
        try:
            with self._db() as db:
                row = db.execute("SELECT name FROM tokens WHERE digest = ?", (_digest(token),)).fetchone()
                if row is not None:
                    db.execute("UPDATE tokens SET last_used = ? WHERE name = ?", (time.time(), row[0]))
        except (sqlite3.Error, TokenError):
            return None
        return None if row is None else str(row[0])

    def _db(self, create: bool = False) -> closing[sqlite3.Connection]:
        """A connection to the token file; ``create``: make the file (0600) and table if need be
        (only when a token is added: a check must not write more than its last-used time)."""
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
            if create:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS tokens (name TEXT PRIMARY KEY, digest TEXT NOT NULL UNIQUE,"
                    " created REAL NOT NULL, last_used REAL)"
                )
                self.path.chmod(0o600)
        except (sqlite3.Error, OSError) as exc:
            raise TokenError(f"cannot use {self.path}: {exc}") from None
        return closing(db)
