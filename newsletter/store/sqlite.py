"""SQLite backend: the embedded default, one file in the per-user data folder."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from newsletter.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache (
    kind  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"""


class SqliteStore:
    """One connection shared by the threads of one process, serialised by a lock: SQLite allows one
    writer at a time anyway, and the work between writes (HTTP, LLM) dominates."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"cannot open the SQLite store at {path}: {err}") from err
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # Cache -----------------------------------------------------------------------------------------
    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM cache WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO cache (kind, key, value) VALUES (?, ?, ?)", (kind, key, text))
