"""SqliteStore: cache, send ledger, issue records, bounce events."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from newsletter.errors import ConflictError
from newsletter.store.base import (
    IssueRecord,
    IssueStatus,
    LedgerEntry,
    LedgerMark,
    LedgerState,
)
from newsletter.store.common import (
    iso,
    parse_iso,
)
from newsletter.store.sqlite.connection import SqliteStoreBase

# Takes each row nobody holds: none yet, or reserved by a runner whose lease ran out.
_CLAIM_ROWS = (
    "INSERT INTO ledger (issue_id, email, state, runner, updated_at, ts) VALUES {values}"
    " ON CONFLICT (issue_id, email) DO UPDATE SET runner = excluded.runner,"
    " updated_at = excluded.updated_at, ts = excluded.ts, message_id = NULL, reason = NULL"
    " WHERE ledger.state = 'reserved' AND ledger.ts + ? <= ?"
)
_CLAIM = _CLAIM_ROWS.format(values="(?, ?, 'reserved', ?, ?, ?)")
# The addresses of a group that someone holds (the opposite of the condition above), in one row.
_HELD = (
    "SELECT json_group_array(email) FROM ledger WHERE issue_id = ? AND email IN ({marks})"
    " AND NOT (state = 'reserved' AND ts + ? <= ?)"
)
_CHUNK = 100  # addresses per statement: well under SQLite's limit on bound parameters
_HOLDING = "SELECT json_group_array(email) FROM ledger WHERE issue_id = ? AND runner = ? AND email IN ({marks})"
_MARK = (
    "UPDATE ledger SET state = ?, updated_at = ?, ts = ?, message_id = coalesce(?, message_id), reason = ?"
    " WHERE issue_id = ? AND email = ? AND runner = ?"
)


@functools.lru_cache(maxsize=8)
def _mark_rows(n: int) -> str:
    """One UPDATE moving ``n`` distinct addresses, each to its own state: parameters are (email, state,
    message_id, reason) per address, then updated_at, ts, issue_id and runner."""
    whens = range(1, 4 * n, 4)

    def case(offset: int) -> str:
        return "CASE email " + " ".join(f"WHEN ?{i} THEN ?{i + offset}" for i in whens) + " END"

    last = 4 * n
    return (
        f"UPDATE ledger SET state = {case(1)}, updated_at = ?{last + 1}, ts = ?{last + 2},"
        f" message_id = coalesce({case(2)}, message_id), reason = {case(3)}"
        f" WHERE issue_id = ?{last + 3} AND runner = ?{last + 4} AND email IN ({', '.join(f'?{i}' for i in whens)})"
    )


class Sending(SqliteStoreBase):
    # Cache -----------------------------------------------------------------------------------------
    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._guard() as db:
            row = db.execute("SELECT value FROM cache WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        with self._guard() as db:
            db.execute("INSERT OR REPLACE INTO cache (kind, key, value) VALUES (?, ?, ?)", (kind, key, text))

    # Send ledger -----------------------------------------------------------------------------------
    def claim(self, issue_id: str, email: str, runner: str, *, lease_seconds: float) -> bool:
        now = self.clock()
        ts = now.timestamp()
        with self._guard() as db:
            cur = db.execute(_CLAIM, (issue_id, email, runner, iso(now), ts, lease_seconds, ts))
            return cur.rowcount == 1

    def claim_many(self, issue_id: str, emails: Sequence[str], runner: str, *, lease_seconds: float) -> set[str]:
        # The same rule as ``claim``, for a whole group in one transaction of four statements rather than one
        # statement per address: each statement lets the other sending threads have the interpreter, and a
        # campaign's eight threads handing it over at every row cost more than the rows.
        wanted = list(dict.fromkeys(emails))
        if not wanted:
            return set()
        now = self.clock()
        at, ts = iso(now), now.timestamp()
        taken: set[str] = set()
        with self._tx() as db:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                held = db.execute(_HELD.format(marks=marks), (issue_id, *chunk, lease_seconds, ts)).fetchone()[0]
                refused = set(json.loads(held)) if held else set()
                rows = [(issue_id, email, runner, at, ts) for email in chunk if email not in refused]
                if rows:
                    values = ",".join(["(?, ?, 'reserved', ?, ?, ?)"] * len(rows))
                    args = [value for row in rows for value in row]
                    db.execute(_CLAIM_ROWS.format(values=values), (*args, lease_seconds, ts))
                taken.update(email for _, email, *_ in rows)
        return taken

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
        if self.mark_many(issue_id, runner, [LedgerMark(email, state, message_id, reason)]):
            raise ConflictError(f"send ledger: {runner} does not hold {issue_id} → {email}")

    def mark_many(self, issue_id: str, runner: str, marks: Sequence[LedgerMark]) -> set[str]:
        now = self.clock()
        at, ts = iso(now), now.timestamp()
        emails = [mark.email for mark in marks]
        if len(set(emails)) < len(emails):  # one address twice: each move in turn, in one transaction
            with self._tx() as db:
                return {
                    email
                    for email, state, message_id, reason in marks
                    if db.execute(
                        _MARK, (LedgerState(state).value, at, ts, message_id, reason, issue_id, email, runner)
                    ).rowcount
                    != 1
                }
        # One statement, so one transaction and one commit: a message's SENT with the next message's SENDING.
        args = [value for m in marks for value in (m.email, LedgerState(m.state).value, m.message_id, m.reason)]
        with self._guard() as db:
            if db.execute(_mark_rows(len(marks)), (*args, at, ts, issue_id, runner)).rowcount == len(marks):
                return set()
            # Some address was not this runner's (rare). Other processes never write this runner's name and this
            # process waits on the lock, so the rows that carry it now are the ones just written.
            held = db.execute(_HOLDING.format(marks=",".join("?" * len(emails))), (issue_id, runner, *emails))
            return set(emails) - set(json.loads(held.fetchone()[0] or "[]"))

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

    def update_issue(self, record: IssueRecord, *, expected: IssueStatus) -> bool:
        # "built": what records written before IssueStatus said for prepared.
        allowed = (expected.value, "built") if expected == IssueStatus.PREPARED else (expected.value, expected.value)
        with self._guard() as db:
            cur = db.execute(
                "UPDATE issues SET doc = ? WHERE issue_id = ? AND json_extract(doc, '$.status') IN (?, ?)",
                (record.model_dump_json(), record.issue_id, *allowed),
            )
            return cur.rowcount == 1

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

    def take_slot(self, key: str, seconds: float) -> bool:
        now = self.clock().timestamp()
        with self._guard() as db:
            cur = db.execute(
                "INSERT INTO rate_limits (key, ts) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET ts = excluded.ts WHERE rate_limits.ts + ? <= excluded.ts",
                (key, now, seconds),
            )
            return cur.rowcount == 1

    def record_soft_bounce(self, email: str, at: datetime) -> list[datetime]:
        with self._guard() as db:
            db.execute("INSERT OR IGNORE INTO soft_bounces (email, at) VALUES (?, ?)", (email, iso(at)))
            rows = db.execute("SELECT at FROM soft_bounces WHERE email = ? ORDER BY at", (email,)).fetchall()
        return [parse_iso(r[0]) for r in rows]


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
