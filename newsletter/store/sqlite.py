"""SQLite backend: the embedded default, one file in the per-user data folder.

Races between runs (two processes on one file, or two threads) are settled by SQLite itself: single-statement
conditional writes (``INSERT … ON CONFLICT … DO UPDATE … WHERE``) for the send ledger and issue records, and
``BEGIN IMMEDIATE`` transactions (one writer at a time) for read-then-write changes of a membership.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from newsletter.errors import ConflictError, StoreError
from newsletter.store.base import (
    BatchOutcome,
    ConsentEvent,
    IssueRecord,
    LedgerEntry,
    LedgerState,
    Member,
    MemberStatus,
    Recipient,
    Suppression,
    SuppressionReason,
    Transition,
)
from newsletter.store.common import (
    LEDGER_FIELDS,
    MEMBERSHIP_FIELDS,
    Clock,
    email_hash,
    first_names,
    iso,
    parse_iso,
    person_export,
    sort_batch,
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
CREATE TABLE IF NOT EXISTS soft_bounces (
    email TEXT NOT NULL,
    at    TEXT NOT NULL,
    PRIMARY KEY (email, at)
) WITHOUT ROWID;
"""
_TABLES = (
    "cache",
    "subscribers",
    "members",
    "suppressions",
    "consent_log",
    "ledger",
    "issues",
    "issue_batches",
    "notifications",
)
_MEMBER_COLUMNS = "m.email, m.list_id, m.status, s.name, m.source, m.created_at, m.updated_at"


class SqliteStore:
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

    # Cache -----------------------------------------------------------------------------------------
    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._guard() as db:
            row = db.execute("SELECT value FROM cache WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        with self._guard() as db:
            db.execute("INSERT OR REPLACE INTO cache (kind, key, value) VALUES (?, ?, ?)", (kind, key, text))

    # Subscribers -----------------------------------------------------------------------------------
    def get_member(self, email: str, list_id: str) -> Member | None:
        with self._guard() as db:
            row = db.execute(
                f"SELECT {_MEMBER_COLUMNS} FROM members m LEFT JOIN subscribers s USING (email)"
                " WHERE m.list_id = ? AND m.email = ?",
                (list_id, email),
            ).fetchone()
        return _member(row) if row else None

    def transition(
        self,
        email: str,
        list_id: str,
        to: MemberStatus,
        *,
        allowed_from: frozenset[MemberStatus | None],
        action: str,
        source: str,
        name: str | None = None,
    ) -> Transition:
        now = iso(self.clock())
        with self._tx() as db:
            row = db.execute("SELECT status FROM members WHERE list_id = ? AND email = ?", (list_id, email)).fetchone()
            before = MemberStatus(row[0]) if row else None
            if before not in allowed_from or before == to:
                return Transition(before=before, after=before, changed=False)
            db.execute(
                "INSERT INTO subscribers (email, email_hash, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (email) DO UPDATE SET name = coalesce(excluded.name, name),"
                " updated_at = excluded.updated_at",
                (email, email_hash(email), name, now, now),
            )
            db.execute(
                "INSERT INTO members (list_id, email, status, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (list_id, email) DO UPDATE SET status = excluded.status, source = excluded.source,"
                " updated_at = excluded.updated_at",
                (list_id, email, to.value, source, now, now),
            )
            self._log(db, email, list_id, action, to.value, source, now)
        return Transition(before=before, after=to, changed=True)

    def remove_member(self, email: str, list_id: str, *, source: str) -> bool:
        now = iso(self.clock())
        with self._tx() as db:
            gone = db.execute("DELETE FROM members WHERE list_id = ? AND email = ?", (list_id, email)).rowcount
            if gone:
                self._log(db, email, list_id, "removed", None, source, now)
        return bool(gone)

    def add_members(
        self, rows: list[tuple[str, str | None]], list_id: str, *, status: MemberStatus, source: str
    ) -> BatchOutcome:
        if not rows:
            return BatchOutcome()
        now = iso(self.clock())
        names = first_names(rows)
        emails = list(names)
        with self._tx() as db:
            marks = ",".join("?" * len(emails))
            present = {
                r[0]
                for r in db.execute(
                    f"SELECT email FROM members WHERE list_id = ? AND email IN ({marks})", (list_id, *emails)
                )
            }
            hashes = {email_hash(e): e for e in emails}
            suppressed = {
                hashes[r[0]]
                for r in db.execute(f"SELECT email_hash FROM suppressions WHERE email_hash IN ({marks})", tuple(hashes))
            }
            outcome = sort_batch(rows, present, suppressed)
            new = outcome.added
            db.executemany(
                "INSERT INTO subscribers (email, email_hash, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (email) DO NOTHING",
                [(e, email_hash(e), names[e], now, now) for e in new],
            )
            db.executemany(
                "INSERT INTO members (list_id, email, status, source, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(list_id, e, status.value, source, now, now) for e in new],
            )
            db.executemany(
                "INSERT INTO consent_log (email, list_id, action, status, source, at)"
                " VALUES (?, ?, 'imported', ?, ?, ?)",
                [(e, list_id, status.value, source, now) for e in new],
            )
        return outcome

    def members(self, list_id: str, status: MemberStatus | None = None) -> Iterator[Member]:
        where = "m.list_id = ? AND m.status = ?" if status else "m.list_id = ?"
        args: tuple[Any, ...] = (list_id, status.value) if status else (list_id,)
        sql = (
            f"SELECT {_MEMBER_COLUMNS} FROM members m LEFT JOIN subscribers s USING (email)"
            f" WHERE {where} AND m.email > ? ORDER BY m.email LIMIT ?"
        )
        for row in self._pages(sql, args):
            yield _member(row)

    def count_members(self, list_id: str) -> dict[MemberStatus, int]:
        with self._guard() as db:
            rows = db.execute("SELECT status, count(*) FROM members WHERE list_id = ? GROUP BY status", (list_id,))
            found = {MemberStatus(status): n for status, n in rows}
        return {s: found.get(s, 0) for s in MemberStatus}

    def _pages(self, sql: str, args: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        """Keyset paging on the email (the first column): each page is one short query, so a slow consumer
        never holds a read transaction open and memory stays at one page."""
        after = ""
        while True:
            with self._guard() as db:
                page = db.execute(sql, (*args, after, self.page_size)).fetchall()
            yield from page
            if len(page) < self.page_size:
                return
            after = page[-1][0]

    # Recipients ------------------------------------------------------------------------------------
    def active_recipients(self, list_id: str) -> Iterator[Recipient]:
        sql = (
            "SELECT m.email, s.name FROM members m JOIN subscribers s USING (email)"
            " WHERE m.list_id = ? AND m.status = 'active' AND m.email > ?"
            " AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email_hash = s.email_hash)"
            " ORDER BY m.email LIMIT ?"
        )
        for email, name in self._pages(sql, (list_id,)):
            yield Recipient(email=email, name=name, list_id=list_id)

    def still_active(self, list_id: str, emails: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(emails))
        found: set[str] = set()
        with self._guard() as db:
            for start in range(0, len(wanted), 500):  # well under SQLite's limit on bound parameters
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    "SELECT m.email FROM members m JOIN subscribers s USING (email)"
                    f" WHERE m.list_id = ? AND m.status = 'active' AND m.email IN ({marks})"
                    " AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email_hash = s.email_hash)",
                    (list_id, *chunk),
                )
                found.update(row[0] for row in rows)
        return found

    # Suppressions ----------------------------------------------------------------------------------
    def suppress(self, email: str, reason: str, source: str) -> None:
        reason = SuppressionReason(reason).value
        now = iso(self.clock())
        with self._tx() as db:
            db.execute(
                "INSERT INTO suppressions (email_hash, reason, source, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (email_hash) DO UPDATE SET reason = excluded.reason, source = excluded.source,"
                " at = excluded.at",
                (email_hash(email), reason, source, now),
            )
            self._log(db, email, None, "suppressed", None, source, now, detail=reason)

    def is_suppressed(self, email: str) -> bool:
        return self.suppression(email) is not None

    def suppression(self, email: str) -> Suppression | None:
        with self._guard() as db:
            row = db.execute(
                "SELECT reason, source, at FROM suppressions WHERE email_hash = ?", (email_hash(email),)
            ).fetchone()
        return Suppression(reason=row[0], source=row[1], at=parse_iso(row[2])) if row else None

    def unsuppress(self, email: str, *, source: str) -> bool:
        now = iso(self.clock())
        with self._tx() as db:
            gone = db.execute("DELETE FROM suppressions WHERE email_hash = ?", (email_hash(email),)).rowcount
            if gone:
                self._log(db, email, None, "unsuppressed", None, source, now)
        return bool(gone)

    # Send ledger -----------------------------------------------------------------------------------
    def claim(self, issue_id: str, email: str, runner: str, *, lease_seconds: float) -> bool:
        now = self.clock()
        ts = now.timestamp()
        with self._guard() as db:
            cur = db.execute(
                "INSERT INTO ledger (issue_id, email, state, runner, updated_at, ts) VALUES (?, ?, 'reserved', ?, ?, ?)"
                " ON CONFLICT (issue_id, email) DO UPDATE SET runner = excluded.runner,"
                " updated_at = excluded.updated_at, ts = excluded.ts, message_id = NULL, reason = NULL"
                " WHERE ledger.state = 'reserved' AND ledger.ts + ? <= ?",
                (issue_id, email, runner, iso(now), ts, lease_seconds, ts),
            )
            return cur.rowcount == 1

    def mark(
        self,
        issue_id: str,
        email: str,
        runner: str,
        state: LedgerState,
        *,
        message_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        now = self.clock()
        with self._guard() as db:
            cur = db.execute(
                "UPDATE ledger SET state = ?, updated_at = ?, ts = ?, message_id = coalesce(?, message_id), reason = ?"
                " WHERE issue_id = ? AND email = ? AND runner = ?",
                (LedgerState(state).value, iso(now), now.timestamp(), message_id, reason, issue_id, email, runner),
            )
            if cur.rowcount != 1:
                raise ConflictError(f"send ledger: {runner} does not hold {issue_id} → {email}")

    def release(self, issue_id: str, email: str, runner: str) -> None:
        """No-op when ``runner`` no longer holds a RESERVED entry (its lease was taken over, or it moved on)."""
        with self._guard() as db:
            db.execute(
                "DELETE FROM ledger WHERE issue_id = ? AND email = ? AND runner = ? AND state = 'reserved'",
                (issue_id, email, runner),
            )

    def reclaim(self, issue_id: str, email: str, runner: str, *, from_runner: str) -> bool:
        now = self.clock()
        with self._guard() as db:
            cur = db.execute(
                "UPDATE ledger SET state = 'reserved', runner = ?, updated_at = ?, ts = ?"
                " WHERE issue_id = ? AND email = ? AND state = 'sending' AND runner = ?",
                (runner, iso(now), now.timestamp(), issue_id, email, from_runner),
            )
            return cur.rowcount == 1

    def entries(self, issue_id: str) -> Iterator[LedgerEntry]:
        sql = (
            "SELECT email, state, runner, updated_at, message_id, reason FROM ledger"
            " WHERE issue_id = ? AND email > ? ORDER BY email LIMIT ?"
        )
        for row in self._pages(sql, (issue_id,)):
            yield _ledger_entry(issue_id, *row)

    def entry(self, issue_id: str, email: str) -> LedgerEntry | None:
        with self._guard() as db:
            row = db.execute(
                "SELECT email, state, runner, updated_at, message_id, reason FROM ledger"
                " WHERE issue_id = ? AND email = ?",
                (issue_id, email),
            ).fetchone()
        return None if row is None else _ledger_entry(issue_id, *row)

    # Issue records ---------------------------------------------------------------------------------
    def create_issue(self, record: IssueRecord) -> bool:
        with self._guard() as db:
            cur = db.execute(
                "INSERT INTO issues (issue_id, doc) VALUES (?, ?) ON CONFLICT (issue_id) DO NOTHING",
                (record.issue_id, record.model_dump_json()),
            )
            return cur.rowcount == 1

    def get_issue(self, issue_id: str) -> IssueRecord | None:
        with self._guard() as db:
            row = db.execute("SELECT doc FROM issues WHERE issue_id = ?", (issue_id,)).fetchone()
        return IssueRecord.model_validate_json(row[0]) if row else None

    def update_issue(self, record: IssueRecord) -> None:
        with self._guard() as db:
            db.execute(
                "INSERT INTO issues (issue_id, doc) VALUES (?, ?)"
                " ON CONFLICT (issue_id) DO UPDATE SET doc = excluded.doc",
                (record.issue_id, record.model_dump_json()),
            )

    def finish_batch(self, issue_id: str, batch: int) -> int:
        with self._guard() as db:
            db.execute("INSERT OR IGNORE INTO issue_batches (issue_id, batch) VALUES (?, ?)", (issue_id, batch))
        return self.batches_done(issue_id)

    def batches_done(self, issue_id: str) -> int:
        with self._guard() as db:
            return int(db.execute("SELECT COUNT(*) FROM issue_batches WHERE issue_id = ?", (issue_id,)).fetchone()[0])

    # Bounce events ---------------------------------------------------------------------------------
    def first_time(self, notification_id: str) -> bool:
        with self._guard() as db:
            cur = db.execute(
                "INSERT INTO notifications (id, at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                (notification_id, iso(self.clock())),
            )
            return cur.rowcount == 1

    def record_soft_bounce(self, email: str, at: datetime) -> list[datetime]:
        with self._guard() as db:
            db.execute("INSERT OR IGNORE INTO soft_bounces (email, at) VALUES (?, ?)", (email, iso(at)))
            rows = db.execute("SELECT at FROM soft_bounces WHERE email = ? ORDER BY at", (email,)).fetchall()
        return [parse_iso(r[0]) for r in rows]

    # A person --------------------------------------------------------------------------------------
    def person(self, email: str) -> dict[str, Any]:
        with self._guard() as db:
            profile = db.execute(
                "SELECT name, created_at, updated_at FROM subscribers WHERE email = ?", (email,)
            ).fetchone()
            memberships = db.execute(
                "SELECT list_id, status, source, created_at, updated_at FROM members WHERE email = ? ORDER BY list_id",
                (email,),
            ).fetchall()
            events = db.execute(
                "SELECT list_id, action, status, source, at, detail FROM consent_log WHERE email = ? ORDER BY id",
                (email,),
            ).fetchall()
            bounces = db.execute("SELECT at FROM soft_bounces WHERE email = ? ORDER BY at", (email,)).fetchall()
            ledger = db.execute(
                "SELECT issue_id, state, runner, updated_at, message_id, reason FROM ledger WHERE email = ?"
                " ORDER BY issue_id",
                (email,),
            ).fetchall()
        return person_export(
            email,
            profile={"name": profile[0], "created_at": profile[1], "updated_at": profile[2]} if profile else None,
            memberships=[dict(zip(MEMBERSHIP_FIELDS, m, strict=True)) for m in memberships],
            suppression=self.suppression(email),
            consent_log=[
                ConsentEvent(
                    email=email, list_id=e[0], action=e[1], status=e[2], source=e[3], at=parse_iso(e[4]), detail=e[5]
                ).model_dump(mode="json", exclude={"email"})
                for e in events
            ],
            soft_bounces=[b[0] for b in bounces],
            send_ledger=[dict(zip(LEDGER_FIELDS, r, strict=True)) for r in ledger],
        )

    def erase_person(self, email: str) -> int:
        deleted = 0
        with self._tx() as db:
            for table in ("members", "consent_log", "soft_bounces", "ledger", "subscribers"):
                deleted += db.execute(f"DELETE FROM {table} WHERE email = ?", (email,)).rowcount
        return deleted

    @staticmethod
    def _log(
        db: sqlite3.Connection,
        email: str,
        list_id: str | None,
        action: str,
        status: str | None,
        source: str,
        at: str,
        *,
        detail: str | None = None,
    ) -> None:
        db.execute(
            "INSERT INTO consent_log (email, list_id, action, status, source, at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (email, list_id, action, status, source, at, detail),
        )


def _member(row: tuple[Any, ...]) -> Member:
    email, list_id, status, name, source, created_at, updated_at = row
    return Member(
        email=email,
        list_id=list_id,
        status=status,
        name=name,
        source=source,
        created_at=parse_iso(created_at),
        updated_at=parse_iso(updated_at),
    )


def _ledger_entry(
    issue_id: str, email: str, state: str, runner: str, updated_at: str, message_id: str | None, reason: str | None
) -> LedgerEntry:
    return LedgerEntry(
        issue_id=issue_id,
        email=email,
        state=LedgerState(state),
        runner=runner,
        updated_at=parse_iso(updated_at),
        message_id=message_id,
        reason=reason,
    )
