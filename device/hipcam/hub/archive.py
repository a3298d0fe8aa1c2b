"""The hub's archive: finished sessions pulled from the devices, one row per (device id, session id).

One small interface (``Archive``) with two implementations on the same schema: ``SqliteArchive``
(a file in ``storage.data_dir``, the default) and ``PostgresArchive`` (``hub.database_url``,
psycopg 3). Each row holds the session's listing fields for search, the whole JSON export (as
text, so both databases hold the same thing) and two hashes: of the device's listing entry (to
skip unchanged sessions without fetching their export) and of the export (to write only when
something, e.g. the notes, changed).

Migrations are a list of statement groups: group ``i`` takes the schema from version ``i`` to
``i + 1``, and ``hub_schema`` holds the version reached. Each group runs in one transaction (on
PostgreSQL under an advisory lock, so two hubs starting together do not both migrate).

Errors come out as ``ArchiveUnavailable`` (the database cannot be reached: retry later) or
``ArchiveError`` (anything else), each with a one-line message and never the URL's password.
PostgreSQL is connected lazily and again after a lost connection, so the hub keeps running while
the database is away.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hipcam.errors import ConfigError, HipcamError

DB_FILE = "hub.sqlite3"
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 15_000
SEARCH_LIMIT = 500
PG_MIGRATION_LOCK = 0x6869_7063  # "hipc": pg_advisory_xact_lock key for migrations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE archived_sessions (
            device_id TEXT NOT NULL,
            session_id BIGINT NOT NULL,
            runner TEXT NOT NULL DEFAULT '',
            started_at DOUBLE PRECISION,
            ended_at DOUBLE PRECISION,
            notes TEXT NOT NULL DEFAULT '',
            stride_count INTEGER NOT NULL DEFAULT 0,
            listing_hash TEXT NOT NULL,
            export_hash TEXT NOT NULL,
            export TEXT NOT NULL,
            pulled_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (device_id, session_id)
        )""",
        "CREATE INDEX archived_sessions_started ON archived_sessions (started_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_SUMMARY_COLUMNS = ("device_id", "session_id", "runner", "started_at", "ended_at", "notes", "stride_count",
                    "pulled_at", "updated_at")  # fmt: skip


class ArchiveError(HipcamError):
    """The archive database refused something (a one-line message)."""


class ArchiveUnavailable(ArchiveError):
    """The archive database cannot be reached now; the same call may work later."""


@dataclass(frozen=True)
class ArchivedSession:
    """A row of the archive without its export: what the list and the search show."""

    device_id: str
    session_id: int
    runner: str
    started_at: float | None
    ended_at: float | None
    notes: str
    stride_count: int
    pulled_at: float
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _SUMMARY_COLUMNS}


@dataclass(frozen=True)
class Hashes:
    listing: str
    export: str


class Archive(Protocol):
    """What the puller and the pages use; both implementations below satisfy it."""

    backend: str  # "sqlite" | "postgresql"
    where: str  # the file, or host:port/db (no password), for messages

    def ping(self) -> None: ...
    def known(self, device_id: str) -> dict[int, Hashes]: ...
    def save(self, device_id: str, export: dict[str, Any], hashes: Hashes) -> None: ...
    def set_listing_hash(self, device_id: str, session_id: int, listing_hash: str) -> None: ...
    def search(
        self, runner: str = "", device_id: str = "", limit: int = 100, offset: int = 0
    ) -> list[ArchivedSession]: ...
    def count(self) -> int: ...
    def get(self, device_id: str, session_id: int) -> tuple[ArchivedSession, dict[str, Any]] | None: ...
    def close(self) -> None: ...


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE ... ESCAPE '\\', the user's own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _row_values(device_id: str, export: dict[str, Any], hashes: Hashes, now: float) -> tuple[Any, ...]:
    session = export["session"]
    strides = export.get("strides")
    count = session.get("stride_count")
    stride_count = count if isinstance(count, int) else len(strides) if isinstance(strides, list) else 0
    return (
        device_id, int(session["id"]), str(session.get("runner") or ""), _number(session.get("started_at")),
        _number(session.get("ended_at")), str(session.get("notes") or ""), stride_count, hashes.listing,
        hashes.export, json.dumps(export, separators=(",", ":"), ensure_ascii=False), now, now,
    )  # fmt: skip


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class SqlArchive:
    """The SQL both databases share, written with ``?`` placeholders; a subclass runs it."""

    backend = "sql"
    where = ""
    placeholder = "?"
    _lock: threading.Lock

    @contextmanager
    def _cursor(self) -> Iterator[Any]:  # one transaction; overridden
        raise NotImplementedError
        yield

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def _query(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            cur.execute(self._sql(text), tuple(params))
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def _migrate(self, cur: Any) -> None:
        cur.execute("CREATE TABLE IF NOT EXISTS hub_schema (version INTEGER NOT NULL)")
        cur.execute("SELECT version FROM hub_schema")
        row = cur.fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise ArchiveError(f"the archive at {self.where} has schema {version}, newer than this hub's "
                               f"{SCHEMA_VERSION}: upgrade hipcam on this machine")  # fmt: skip
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                cur.execute(statement)
        if row is None:
            cur.execute(self._sql("INSERT INTO hub_schema (version) VALUES (?)"), (SCHEMA_VERSION,))
        elif version < SCHEMA_VERSION:
            cur.execute(self._sql("UPDATE hub_schema SET version = ?"), (SCHEMA_VERSION,))

    def ping(self) -> None:
        self._query("SELECT 1")

    def close(self) -> None:  # overridden
        raise NotImplementedError

    def schema_version(self) -> int:
        rows = self._query("SELECT version FROM hub_schema")
        return int(rows[0][0]) if rows else 0

    def known(self, device_id: str) -> dict[int, Hashes]:
        rows = self._query(
            "SELECT session_id, listing_hash, export_hash FROM archived_sessions WHERE device_id = ?", (device_id,)
        )
        return {int(r[0]): Hashes(r[1], r[2]) for r in rows}

    def save(self, device_id: str, export: dict[str, Any], hashes: Hashes) -> None:
        """Insert the session, or replace an older copy of it (keeping when it was first pulled)."""
        columns = ("device_id", "session_id", "runner", "started_at", "ended_at", "notes", "stride_count",
                   "listing_hash", "export_hash", "export", "pulled_at", "updated_at")  # fmt: skip
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[2:] if c != "pulled_at")
        self._query(
            f"INSERT INTO archived_sessions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT (device_id, session_id) DO UPDATE SET {updates}",
            _row_values(device_id, export, hashes, time.time()),
        )

    def set_listing_hash(self, device_id: str, session_id: int, listing_hash: str) -> None:
        self._query("UPDATE archived_sessions SET listing_hash = ? WHERE device_id = ? AND session_id = ?",
                    (listing_hash, device_id, session_id))  # fmt: skip

    def search(self, runner: str = "", device_id: str = "", limit: int = 100, offset: int = 0) -> list[ArchivedSession]:
        """Newest first; ``runner``: a case-insensitive part of the runner's name; ``device_id``: exact."""
        where, params = ["1 = 1"], []
        if runner.strip():
            where.append("lower(runner) LIKE ? ESCAPE '\\'")
            params.append(like_pattern(runner.strip()))
        if device_id:
            where.append("device_id = ?")
            params.append(device_id)
        limit = max(1, min(int(limit), SEARCH_LIMIT))
        rows = self._query(
            f"SELECT {', '.join(_SUMMARY_COLUMNS)} FROM archived_sessions WHERE {' AND '.join(where)} "
            "ORDER BY started_at DESC, device_id, session_id DESC LIMIT ? OFFSET ?",
            (*params, limit, max(0, int(offset))),
        )
        return [ArchivedSession(*r) for r in rows]

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM archived_sessions")[0][0])

    def get(self, device_id: str, session_id: int) -> tuple[ArchivedSession, dict[str, Any]] | None:
        rows = self._query(
            f"SELECT {', '.join(_SUMMARY_COLUMNS)}, export FROM archived_sessions "
            "WHERE device_id = ? AND session_id = ?",
            (device_id, session_id),
        )
        if not rows:
            return None
        *summary, export = rows[0]
        return ArchivedSession(*summary), json.loads(export)


class SqliteArchive(SqlArchive):
    """The archive in one SQLite file (WAL), shared by the page's threads and the puller."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            with self._cursor() as cur:
                self._migrate(cur)
        except (OSError, sqlite3.Error) as exc:
            raise ArchiveError(f"cannot open the archive {path}: {exc}") from None

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                yield cur
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise ArchiveError(f"archive {self.path}: {exc}") from None
            except BaseException:
                self._rollback()
                raise
            finally:
                cur.close()

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def postgres_where(url: str) -> str:
    """host:port/dbname of a PostgreSQL URL (never its password); a ConfigError if it is no URL."""
    import psycopg

    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        raise ConfigError("hub.database_url: not a valid PostgreSQL URL (postgresql://user@host:5432/db)") from None
    host = str(info.get("host") or "localhost")
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or info.get('user') or ''}"


class PostgresArchive(SqlArchive):
    """The archive in a PostgreSQL database: one connection, opened when first needed and again
    after it was lost (``ArchiveUnavailable`` meanwhile)."""

    backend = "postgresql"
    placeholder = "%s"

    def __init__(self, url: str, connect: bool = True) -> None:
        self.where = postgres_where(url)
        self._url = url
        self._lock = threading.Lock()
        self._conn: Any = None
        if connect:
            self.ping()

    def _connection(self) -> Any:
        import psycopg

        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                   options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")  # fmt: skip
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (PG_MIGRATION_LOCK,))
                self._migrate(cur)
        except psycopg.OperationalError as exc:
            raise ArchiveUnavailable(f"PostgreSQL at {self.where} unreachable: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise ArchiveError(f"PostgreSQL at {self.where}: {_first_line(exc)}") from None
        self._conn = conn
        return conn

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except psycopg.OperationalError as exc:
                self._drop()
                raise ArchiveUnavailable(f"PostgreSQL at {self.where} unreachable: {_first_line(exc)}") from None
            except psycopg.Error as exc:
                if conn.broken:
                    self._drop()
                raise ArchiveError(f"PostgreSQL at {self.where}: {_first_line(exc)}") from None

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close; it is gone anyway
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._drop()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def open_archive(database_url: str | None, data_dir: Path) -> SqlArchive:
    """The configured archive: PostgreSQL for a URL (not connected yet if it cannot be reached:
    the caller decides; see ``PostgresArchive``), else SQLite in ``data_dir``."""
    if database_url:
        return PostgresArchive(database_url, connect=False)
    return SqliteArchive(data_dir / DB_FILE)
