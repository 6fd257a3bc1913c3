"""SqliteStore: subscribers, recipients, suppressions, a person."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from newsletter.models import ReaderPreferences
from newsletter.preferences import describe
from newsletter.store.base import (
    BatchOutcome,
    ConsentEvent,
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
    email_hash,
    first_names,
    iso,
    parse_iso,
    person_export,
    sort_batch,
)
from newsletter.store.sqlite.connection import _MEMBER_COLUMNS, SqliteStoreBase
from newsletter.store.sqlite.preferences import dump


class People(SqliteStoreBase):
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
        uniform: bool = False,  # nothing to even out: one local transaction, microseconds either way
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

    def address(self, email_hash: str) -> str | None:
        with self._guard() as db:
            row = db.execute("SELECT email FROM subscribers WHERE email_hash = ?", (email_hash,)).fetchone()
        return str(row[0]) if row else None

    def remove_member(self, email: str, list_id: str, *, source: str) -> bool:
        now = iso(self.clock())
        with self._tx() as db:
            gone = db.execute("DELETE FROM members WHERE list_id = ? AND email = ?", (list_id, email)).rowcount
            db.execute("DELETE FROM preferences WHERE list_id = ? AND email = ?", (list_id, email))
            if gone:
                self._log(db, email, list_id, "removed", None, source, now)
        return bool(gone)

    def add_members(
        self,
        rows: list[tuple[str, str | None]],
        list_id: str,
        *,
        status: MemberStatus,
        source: str,
        preferences: Mapping[str, ReaderPreferences] | None = None,
    ) -> BatchOutcome:
        if not rows:
            return BatchOutcome()
        now, state = iso(self.clock()), status.value
        names = first_names(rows)
        with self._tx() as db:
            present = _found(db, "SELECT email FROM members WHERE list_id = ? AND email IN", (list_id,), names)
            # Only the addresses not on the list yet are hashed: a re-run of the same file hashes nothing.
            hash_of = {e: email_hash(e) for e in names if e not in present}
            suppressed: set[str] = set()
            if hash_of and db.execute("SELECT 1 FROM suppressions LIMIT 1").fetchone():
                hashes = {h: e for e, h in hash_of.items()}
                found = _found(db, "SELECT email_hash FROM suppressions WHERE email_hash IN", (), hashes)
                suppressed = {hashes[h] for h in found}
            outcome = sort_batch(rows, present, suppressed)
            # In key order, so that consecutive inserts land on the same pages of the four email-keyed b-trees
            # (a file's rows come in any order).
            new = sorted(outcome.added)
            db.executemany(
                "INSERT INTO subscribers (email, email_hash, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (email) DO NOTHING",
                [(e, hash_of[e], names[e], now, now) for e in new],
            )
            db.executemany(
                "INSERT INTO members (list_id, email, status, source, created_at, updated_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                [(list_id, e, state, source, now) for e in new],
            )
            db.executemany(
                "INSERT INTO consent_log (email, list_id, action, status, source, at)"
                " VALUES (?, ?, 'imported', ?, ?, ?)",
                [(e, list_id, state, source, now) for e in new],
            )
            if preferences:
                chosen = [(e, p) for e in new if (p := preferences.get(e)) is not None and not p.is_default]
                db.executemany(
                    "INSERT INTO preferences (list_id, email, doc, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (list_id, email) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
                    [(list_id, e, dump(p), now) for e, p in chosen],
                )
                db.executemany(
                    "INSERT INTO consent_log (email, list_id, action, status, source, at, detail)"
                    " VALUES (?, ?, 'preferences', ?, ?, ?, ?)",
                    [(e, list_id, state, source, now, describe(p)) for e, p in chosen],
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
            choices = db.execute("SELECT list_id, doc FROM preferences WHERE email = ? ORDER BY list_id", (email,))
            preferences = {list_id: json.loads(doc) for list_id, doc in choices.fetchall()}
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
            preferences=preferences,
        )

    def erase_person(self, email: str) -> int:
        deleted = 0
        with self._tx() as db:
            for table in ("members", "preferences", "consent_log", "soft_bounces", "ledger", "subscribers"):
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


def _found(db: sqlite3.Connection, sql: str, args: tuple[Any, ...], keys: Iterable[str]) -> set[str]:
    """The first column of ``sql … IN (keys)``, in chunks well under SQLite's limit on bound parameters (999
    before 3.32), so that a batch may be as large as the caller likes."""
    wanted, found = list(keys), set()
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        found.update(r[0] for r in db.execute(f"{sql} ({','.join('?' * len(chunk))})", (*args, *chunk)))
    return found


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
