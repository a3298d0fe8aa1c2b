"""Telling a damaged session database from every other SQLite error, and a cheap check for it.

SQLite says a file is damaged with two result codes: SQLITE_CORRUPT ("database disk image is
malformed") and SQLITE_NOTADB ("file is not a database"). Neither mends itself and neither is the
caller's fault, so the web answers them apart (web_ui.health). ``quick_check`` runs SQLite's
``PRAGMA quick_check`` on a separate read-only connection: it never writes to, moves or deletes the
file, and does not wait for the store's own connection.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

CORRUPT_NAMES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
CORRUPT_TEXTS = ("database disk image is malformed", "file is not a database")
CHECK_TIMEOUT_S = 5.0


def is_corruption(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite saying the database file is damaged (not a lock, a full disk, a bug)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in CORRUPT_CODES:  # extended codes keep the primary in the low byte
        return True
    if getattr(exc, "sqlite_errorname", None) in CORRUPT_NAMES:
        return True
    text = str(exc).lower()
    return any(t in text for t in CORRUPT_TEXTS)


def quick_check(path: Path, timeout_s: float = CHECK_TIMEOUT_S) -> str | None:
    """SQLite's first complaint about the database at ``path`` (``PRAGMA quick_check``), or None when
    it is sound or cannot be checked now (missing, locked: logged, never reported as damage)."""
    try:
        return _first_complaint(path, timeout_s)
    except sqlite3.Error as exc:
        if is_corruption(exc):
            return str(exc)
        log.debug("could not check %s now: %s", path, exc)
        return None


def _first_complaint(path: Path, timeout_s: float) -> str | None:
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=timeout_s)
    try:
        rows = db.execute("PRAGMA quick_check(1)").fetchall()
    finally:
        db.close()
    first = str(rows[0][0]) if rows else "ok"
    return None if first == "ok" else one_line(first)


def one_line(text: str) -> str:
    """SQLite's report on one line ("*** in database main ***" and line breaks dropped)."""
    return " ".join(text.replace("*** in database main ***", " ").split())
