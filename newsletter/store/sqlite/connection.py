"""The sqlite store's connection, schema and low-level helpers, shared by its parts."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsletter.errors import StoreError
from newsletter.store.common import (
    Clock,
    utcnow,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache (
    kind  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscribers (
    email      TEXT PRIMARY KEY,
    email_hash TEXT NOT NULL,
    name       TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
-- links carry a reference to the address's hash (newsletter/tokens.py), looked up here
CREATE INDEX IF NOT EXISTS subscribers_hash ON subscribers (email_hash);
CREATE TABLE IF NOT EXISTS members (
    list_id    TEXT NOT NULL,
    email      TEXT NOT NULL,
    status     TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (list_id, email)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_status ON members (list_id, status, email);
CREATE INDEX IF NOT EXISTS members_email ON members (email);
CREATE TABLE IF NOT EXISTS suppressions (
    email_hash TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    source     TEXT NOT NULL,
    at         TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consent_log (
    id      INTEGER PRIMARY KEY,
    email   TEXT NOT NULL,
    list_id TEXT,
    action  TEXT NOT NULL,
    status  TEXT,
    source  TEXT NOT NULL,
    at      TEXT NOT NULL,
    detail  TEXT
);
CREATE INDEX IF NOT EXISTS consent_log_email ON consent_log (email, id);
CREATE TABLE IF NOT EXISTS ledger (
    issue_id   TEXT NOT NULL,
    email      TEXT NOT NULL,
    state      TEXT NOT NULL,
    runner     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ts         REAL NOT NULL,
    message_id TEXT,
    reason     TEXT,
    PRIMARY KEY (issue_id, email)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ledger_email ON ledger (email);
CREATE TABLE IF NOT EXISTS issues (
    issue_id TEXT PRIMARY KEY,
    doc      TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS issue_batches (
    issue_id TEXT NOT NULL,
    batch    INTEGER NOT NULL,
    PRIMARY KEY (issue_id, batch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT PRIMARY KEY,
    ts  REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS soft_bounces (
    email TEXT NOT NULL,
    at    TEXT NOT NULL,
    PRIMARY KEY (email, at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS preferences (
    list_id    TEXT NOT NULL,
    email      TEXT NOT NULL,
    doc        TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (list_id, email)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS preferences_email ON preferences (email);
"""
_TABLES = (
    *("cache", "subscribers", "members", "suppressions", "consent_log", "ledger", "issues", "issue_batches"),
    *("notifications", "preferences", "rate_limits"),
)
_MEMBER_COLUMNS = "m.email, m.list_id, m.status, s.name, m.source, m.created_at, m.updated_at"


class SqliteStoreBase:
    """One connection shared by the threads of one process, serialised by a lock: SQLite allows one
    writer at a time anyway, and the work between writes (HTTP, LLM) dominates."""

    def __init__(self, path: Path | str, *, clock: Clock = utcnow, page_size: int = 500) -> None:
        self.path = Path(path)
        self.clock = clock
        self.page_size = page_size
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # `forget` must erase, not just unlink: deleted rows are overwritten with zeros (builds differ in
            # their default, so it is set here rather than trusted).
            self._db.execute("PRAGMA secure_delete=ON")
            # 16 MB of page cache (default 2 MB): imports touch random pages of the email indexes.
            self._db.execute("PRAGMA cache_size=-16000")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"cannot open the SQLite store at {path}: {err}") from err
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """The lock, and sqlite3's errors as StoreError (where they enter)."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as err:
                raise StoreError(f"SQLite store {self.path}: {err}") from err

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the database's write lock up front, so that a read-then-write
        cannot interleave with another connection's."""
        with self._guard() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def init(self) -> list[str]:
        with self._guard() as db:
            db.executescript(_SCHEMA)
        return [f"{self.path}: {', '.join(_TABLES)}"]
